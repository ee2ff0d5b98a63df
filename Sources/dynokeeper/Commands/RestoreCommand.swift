import ArgumentParser
import DynokeeperConfiguration
import DynokeeperEngine
import Foundation

struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Replace this node's data with a snapshot (needs restore.enabled: true).",
        discussion: """
            Fetches and verifies the snapshot while the node serves, then stops Dynomite and Redis, puts the files \
            in place, starts Redis, waits for its data, checks the key counts and starts Dynomite. A failure puts \
            the previous data back. --resume finishes a restore that was interrupted; --rollback undoes it.
            """)

    @OptionGroup var options: GlobalOptions

    @Option(
        help:
            "Restore the newest snapshot taken at or before this moment: 2026-11-20 (end of that day), 2026-11-20T14:00, 2026-11-20T14:00:00Z or 20261120; days and times without an offset in restore.timezone (UTC by default)."
    )
    var date: String?

    @Option(help: "Restore this snapshot id (such as 20261124T020000Z).")
    var snapshot: String?

    @Option(
        help:
            "Bring the node to its state at exactly this moment (2026-11-20T14:03:07Z, fractions of a second allowed): the newest base snapshot before it, then the commands archived by pitr up to it."
    )
    var toTime: String?

    @Option(
        help: "Restore another cluster's data (default: restore.source_cluster, else this cluster).",
        transform: storeName("--source-cluster"))
    var sourceCluster: String?

    @Option(
        help:
            "The source node's datacenter, when its name differs (default: restore.source_datacenter, else this node's).",
        transform: storeName("--source-datacenter"))
    var sourceDatacenter: String?

    @Option(
        help: "The source node's rack, when its name differs (default: restore.source_rack, else this node's).",
        transform: storeName("--source-rack"))
    var sourceRack: String?

    @Option(
        help:
            "Only dynokeeper snapshots (dynokeeper), only Dynomite-manager's objects (dynomite-manager), or the newest of both (auto) (default: restore.format)."
    )
    var format: String?

    @Flag(help: "Print the chosen snapshot, its files and every step, and change nothing.")
    var dryRun = false

    @Flag(help: "Skip the BGSAVE that makes the set-aside files hold Redis's latest data.")
    var noSafetySave = false

    @Flag(help: "Restore even a snapshot whose RDB format is newer than the node's Redis loads.")
    var force = false

    @Flag(help: "Finish a restore that was interrupted, from its journal in the state folder.")
    var resume = false

    @Flag(help: "Undo a restore that was interrupted: put the previous data back and start the processes.")
    var rollback = false

    @Flag(help: "Print the outcome as one line of JSON (the API's job result).")
    var json = false

    func run() async throws {
        try await reportingErrors {
            try await NodeContext.with(options) { context in
                let restore = context.components.restore(progress: TerminalProgress.ifTerminal())
                if rollback {
                    let outcome = try await restore.rollback()
                    print(json ? try APIJSON.line(JobResult(outcome: outcome)) : outcome)
                    return
                }
                let report =
                    resume
                    ? try await restore.resume()
                    : try await restore.run(
                        try request(timeZone: context.configuration.restore.timeZone).options(
                            context.configuration, node: context.node))
                if json { print(try APIJSON.line(JobResult(report))) } else { printReport(report) }
            }
        }
    }

    /// The flags as the restore request the API takes too.
    func request(timeZone: TimeZone) throws -> RestoreRequest {
        var request = RestoreRequest(
            date: try date.map { try RestorePoint.parse($0, timeZone: timeZone) }, sourceCluster: sourceCluster,
            sourceDatacenter: sourceDatacenter,
            sourceRack: sourceRack, dryRun: dryRun, force: force)
        request.snapshot = try snapshot.map { try SnapshotID.parse($0, as: "--snapshot") }
        if let format {
            guard let parsed = DynokeeperConfiguration.Restore.Format(rawValue: format) else {
                throw ValidationError("--format must be dynokeeper, dynomite-manager or auto")
            }
            request.format = parsed
        }
        request.skipSafetySave = noSafetySave
        request.toTime = try toTime.map { try RestorePoint.parse($0, timeZone: timeZone, fractions: true) }
        do { try request.checkPoint() } catch {
            throw ValidationError("--to-time goes with neither --date nor --snapshot")
        }
        return request
    }

    func printReport(_ report: NodeRestore.Report) {
        let source = report.source
        print(
            "\(report.dryRun ? "would restore" : "restored") snapshot \(source.id) of \(source.node.cluster) \(source.node) (\(source.type.rawValue), \(source.format.rawValue) format)"
        )
        for file in source.files {
            print("  \(file.name): \(Format.bytes(file.size))\(file.sha256.map { " sha256 \($0)" } ?? "")")
        }
        print(report.dryRun ? "steps:" : "steps and durations:")
        for (index, step) in report.steps.enumerated() {
            print("  \(index + 1). \(step.name)\(report.dryRun ? "" : ": \(Format.duration(step.duration))")")
        }
        for note in report.notes { print("note: \(note)") }
        if report.dryRun { print("dry run: nothing was changed") }
    }
}
