import ArgumentParser
import DynokeeperConfiguration
import DynokeeperEngine
import Foundation

struct GCCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract:
            "Remove what interrupted backups left in the store (incomplete uploads, snapshot folders without a manifest).",
        discussion: """
            Aborts the store's multipart uploads that were never completed (S3 bills their parts until then), removes \
            the local store's temporary files and empty folders, and snapshot folders that have no manifest (they are \
            never listed or restored). Only what is older than --older-than goes, so that a backup under way is left \
            alone. The daemon runs it once a day.
            """)

    @OptionGroup var options: GlobalOptions

    @Option(help: "Only what is at least this old: 90s, 30m, 24h, 7d.")
    var olderThan = "24h"

    @Flag(help: "List what would go; remove nothing.")
    var dryRun = false

    func run() async throws {
        try await reportingErrors {
            guard let age = DurationText.parse(olderThan) else {
                throw ValidationError("--older-than \(olderThan) is not a duration such as 90s, 30m, 24h or 7d")
            }
            try await NodeContext.with(options) { context in
                let report = try await StoreGarbageCollector(store: context.store, logger: context.logger).run(
                    olderThan: age, dryRun: dryRun)
                let verb = dryRun ? "would abort" : "aborted"
                for upload in report.uploads {
                    print(
                        "\(verb) incomplete upload \(upload.key) (\(upload.id))\(upload.started.map { ", started \($0.formatted(.iso8601))" } ?? "")"
                    )
                }
                for folder in report.folders {
                    print(
                        "\(dryRun ? "would remove" : "removed") incomplete snapshot \(folder.prefix) (\(folder.keys.count) object(s), no manifest)"
                    )
                }
                if report.emptyFolders > 0 {
                    print("\(dryRun ? "would remove" : "removed") \(report.emptyFolders) empty folder(s)")
                }
                if report.isEmpty { print("nothing to remove in \(context.store.location) older than \(olderThan)") }
            }
        }
    }
}
