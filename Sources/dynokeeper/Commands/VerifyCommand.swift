import ArgumentParser
import DynokeeperConfiguration
import DynokeeperEngine
import Foundation

struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract:
            "Check stored snapshots without touching the node (every file's size and SHA-256; --load: a restore drill).",
        discussion: """
            Reads every file of the chosen snapshots back from the store, decompresses it and compares its size and \
            SHA-256 with the manifest. With --load, also loads each snapshot into a throwaway redis-server (loopback, \
            a free port, a temporary folder) and compares the key counts per database with the manifest. Exit status \
            1 when anything is wrong, with each problem named.
            """)

    @OptionGroup var options: GlobalOptions

    @Option(help: "Verify this snapshot id.")
    var snapshot: String?

    @Flag(help: "Verify the newest snapshot of this node (the default).")
    var latest = false

    @Flag(help: "Verify every snapshot of this node, and every segment of its point-in-time archive.")
    var all = false

    @Flag(help: "Also load each snapshot into a throwaway redis-server and compare the key counts.")
    var load = false

    @Option(help: "The redis-server that --load starts (default: verify.redis_server, else redis-server on PATH).")
    var redisServer: String?

    @Flag(help: "One JSON object per snapshot and line instead of text.")
    var json = false

    func validate() throws {
        guard [snapshot != nil, latest, all].filter({ $0 }).count <= 1 else {
            throw ValidationError("choose one of --snapshot, --latest and --all")
        }
    }

    func run() async throws {
        try await reportingErrors {
            try await NodeContext.with(options) { context in
                let request = VerificationRequest(
                    snapshot: try snapshot.map { try SnapshotID.parse($0, as: "--snapshot") }, all: all, load: load)
                var verifier = context.components.verifier(progress: TerminalProgress.ifTerminal())
                if let redisServer { verifier.redisServer = redisServer }
                let reports = try await verifier.run(context.node.identity, request: request) { report in
                    if json {
                        print(try APIJSON.line(report))
                        return
                    }
                    let loaded = report.loadedKeys.map { keys in
                        ", loaded "
                            + keys.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(
                                separator: " ")
                    }
                    print(
                        "\(report.ok ? "ok" : "FAILED") \(report.snapshot) \(report.node): \(report.files) file(s), \(Format.bytes(report.bytes)) read\(loaded ?? "")"
                    )
                    for problem in report.problems { print("  \(problem)") }
                }
                let failed = reports.filter { !$0.ok }.count
                if failed > 0 {
                    throw DynokeeperError(.snapshot, "\(failed) of \(reports.count) snapshot(s) failed verification")
                }
            }
        }
    }
}

struct FetchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch",
        abstract: "Download a snapshot's files into a folder, decompressed and checked, without touching any Redis.",
        discussion: """
            The files keep their Redis names (dump.rdb, appendonlydir/…), ready for redis-server --dir FOLDER; the \
            command prints the redis-server arguments that load them.
            """)

    @OptionGroup var options: GlobalOptions

    @Option(help: "This snapshot id.")
    var snapshot: String?

    @Option(help: "The newest snapshot taken at or before this moment (as restore --date).")
    var date: String?

    @Option(help: "The folder to write into (created if missing; refused if not empty, unless --force).")
    var to: String

    @Flag(help: "Write into a folder that is not empty, replacing files of the same names.")
    var force = false

    func run() async throws {
        try await reportingErrors {
            try await NodeContext.with(options) { context in
                var request = SnapshotSelector.Request(
                    source: context.node.identity,
                    date: try date.map { try RestorePoint.parse($0, timeZone: context.configuration.restore.timeZone) },
                    snapshotID: try snapshot.map { try SnapshotID.parse($0, as: "--snapshot") },
                    dynomiteManagerType: context.configuration.backup.type)
                request.dynomiteManagerTimeZone = context.configuration.restore.timeZone
                let source = try await SnapshotSelector(store: context.store, logger: context.logger).select(request)
                guard !to.isEmpty else { throw ValidationError("--to needs a folder") }
                let folder = URL(fileURLWithPath: to).standardizedFileURL.path
                let arguments = try await context.components.export(progress: TerminalProgress.ifTerminal())
                    .fetch(source, into: folder, force: force)
                print("fetched snapshot \(source.id) of \(source.node.cluster) \(source.node) into \(folder)")
                for file in source.files {
                    print("  \(file.name): \(Format.bytes(file.size))\(file.sha256.map { " sha256 \($0)" } ?? "")")
                }
                print("load it with: redis-server \(arguments.joined(separator: " "))")
            }
        }
    }
}
