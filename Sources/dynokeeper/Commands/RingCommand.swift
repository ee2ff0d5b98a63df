import ArgumentParser
import DynokeeperConfiguration
import DynokeeperEngine
import DynokeeperRing
import Foundation

struct RingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ring",
        abstract: "Back up or restore the whole ring through every node's dynokeeper (ring.peers or ring.peer_port).",
        subcommands: [Backup.self, Restore.self, Snapshots.self])

    /// Runs a coordinator from this process with the configuration, and prints its report.
    static func coordinate(
        _ options: GlobalOptions, json: Bool, _ body: (RingCoordinator) async throws -> RingReport
    ) async throws {
        try await NodeContext.with(options) { context in
            let peers = try PeerClient.make(context.configuration)
            let coordinator = RingCoordinator(
                configuration: context.configuration, node: context.node, store: context.store, peers: peers,
                logger: context.logger)
            let report: RingReport
            do {
                report = try await body(coordinator)
            } catch {
                await peers.shutdown()
                throw error
            }
            await peers.shutdown()
            if json { print(try APIJSON.line(report)) } else { printReport(report) }
            guard report.succeeded else {
                // The JSON carries the error too; standard error says it in one line, as for every failure.
                if json {
                    FileHandle.standardError.write(
                        Data("error: \(report.error ?? "ring \(report.kind.rawValue) failed")\n".utf8))
                }
                throw ExitCode(1)
            }
        }
    }

    static func printReport(_ report: RingReport) {
        let verb = report.kind == .backup ? "ring backup" : (report.dryRun ? "ring restore (dry run)" : "ring restore")
        let what = report.toTime.map { "to \(PointInTimeArchive.format($0))" } ?? report.snapshotID ?? ""
        print("\(verb) \(what) of \(report.cluster): \(report.succeeded ? "succeeded" : "FAILED")")
        for node in report.nodes {
            var line = "  \(node.node ?? "?") at \(node.url): \(node.state.rawValue)"
            if let source = node.source { line += " from \(source)" }
            if let seconds = node.seconds { line += String(format: " in %.1f s", seconds) }
            if let snapshot = node.result?.snapshot, report.kind == .backup { line += ", snapshot \(snapshot)" }
            if let error = node.error { line += " — \(error)" }
            print(line)
        }
        if let manifest = report.ringManifest { print("ring manifest: \(manifest)") }
        if let error = report.error { print("error: \(error)") }
    }

    struct Backup: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Ask every node to back up under one snapshot id; write the ring manifest when all succeed.")

        @OptionGroup var options: GlobalOptions

        @Option(help: "rdb or aof; default from backup.type.")
        var type: DynokeeperConfiguration.Backup.PersistenceType?

        @Flag(help: "Print the report as one line of JSON (as GET /v1/ring/jobs shows it).")
        var json = false

        func run() async throws {
            try await reportingErrors {
                try await RingCommand.coordinate(options, json: json) {
                    try await $0.backup(RingBackupRequest(type: type))
                }
            }
        }
    }

    struct Restore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Restore every node from a ring snapshot, each node from its counterpart (restore.enabled on every node)."
        )

        @OptionGroup var options: GlobalOptions

        @Option(help: "The newest ring snapshot taken at or before this moment (formats as for restore).")
        var date: String?

        @Option(help: "Exactly this ring snapshot id.")
        var snapshot: String?

        @Option(
            help:
                "Bring every node to its state at exactly this moment (point-in-time recovery on each node; formats as for restore --to-time)."
        )
        var toTime: String?

        @Option(
            help: "Restore another cluster's ring snapshot (default: restore.source_cluster, else this cluster).",
            transform: storeName("--source-cluster"))
        var sourceCluster: String?

        @Option(
            name: .customLong("map"),
            help: "Map a target rack to a source rack: dc/rack=source-dc/source-rack (repeatable).")
        var mappings: [String] = []

        @Flag(help: "One rack at a time, so that the cluster keeps serving from the other racks.")
        var rackByRack = false

        @Flag(help: "Every node reports what it would do; nothing changes.")
        var dryRun = false

        @Flag(help: "Print the report as one line of JSON (as GET /v1/ring/jobs shows it).")
        var json = false

        func run() async throws {
            try await reportingErrors {
                var request = RingRestoreRequest(
                    snapshot: try snapshot.map { try SnapshotID.parse($0, as: "--snapshot") },
                    sourceCluster: sourceCluster, dryRun: dryRun, rackByRack: rackByRack)
                for mapping in mappings {
                    let parts = mapping.split(separator: "=").map(String.init)
                    guard parts.count == 2, parts.allSatisfy({ $0.split(separator: "/").count == 2 }) else {
                        throw ValidationError("--map \(mapping) must be dc/rack=source-dc/source-rack")
                    }
                    request.mapping[parts[0]] = parts[1]
                }
                try await RingCommand.coordinate(options, json: json) { coordinator in
                    // A day is read in restore.timezone.
                    request.date = try date.map {
                        try RestorePoint.parse($0, timeZone: coordinator.configuration.restore.timeZone)
                    }
                    request.toTime = try toTime.map {
                        try RestorePoint.parse(
                            $0, timeZone: coordinator.configuration.restore.timeZone, fractions: true)
                    }
                    if request.toTime != nil && (request.date != nil || request.snapshot != nil) {
                        throw ValidationError("--to-time goes with neither --date nor --snapshot")
                    }
                    return try await coordinator.restore(request)
                }
            }
        }
    }

    struct Snapshots: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the complete ring snapshots, newest first.")

        @OptionGroup var options: GlobalOptions

        @Option(help: "The cluster (default: this one).", transform: storeName("--cluster"))
        var cluster: String?

        func run() async throws {
            try await reportingErrors {
                try await NodeContext.with(options) { context in
                    let cluster = cluster ?? context.configuration.cluster
                    let catalog = RingCatalog(store: context.store, logger: context.logger)
                    let ids = try await catalog.ids(cluster: cluster)
                    if ids.isEmpty { print("(no complete ring snapshots of \(cluster))") }
                    for id in ids {
                        let manifest = try await catalog.manifest(cluster: cluster, id: id)
                        print(
                            "\(id)  \(manifest.type.rawValue)  \(manifest.nodes.count) node(s): \(manifest.nodes.map { "\($0.datacenter)/\($0.rack)/\($0.tokens)" }.joined(separator: ", "))"
                        )
                    }
                }
            }
        }
    }
}
