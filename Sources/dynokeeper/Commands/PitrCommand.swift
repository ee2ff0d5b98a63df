import ArgumentParser
import DynokeeperConfiguration
import DynokeeperEngine
import Foundation

struct PitrCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pitr",
        abstract: "Point-in-time recovery: what the archived command stream covers.",
        subcommands: [Status.self])

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the moments a restore --to-time can reach on this node (or the source node), and its bases."
        )

        @OptionGroup var options: GlobalOptions

        @Option(
            help: "Another cluster's node (default: restore.source_cluster, else this cluster).",
            transform: storeName("--source-cluster"))
        var sourceCluster: String?

        @Option(
            help: "The source node's datacenter, when its name differs.", transform: storeName("--source-datacenter"))
        var sourceDatacenter: String?

        @Option(help: "The source node's rack, when its name differs.", transform: storeName("--source-rack"))
        var sourceRack: String?

        @Flag(help: "Print the report as one line of JSON.")
        var json = false

        func run() async throws {
            try await reportingErrors {
                try await NodeContext.with(options) { context in
                    let request = RestoreRequest(
                        sourceCluster: sourceCluster, sourceDatacenter: sourceDatacenter, sourceRack: sourceRack)
                    let node = request.source(context.configuration, node: context.node)
                    let snapshots = try await SnapshotCatalog(store: context.store, logger: context.logger)
                        .snapshots(of: node)
                    let report = try await PointInTimeArchive(store: context.store, keys: context.components.keys)
                        .report(node, snapshots: snapshots)
                    if json { return print(try APIJSON.line(report)) }
                    print(
                        "archive of \(node.cluster) \(node): \(report.segments) segment(s), \(Format.bytes(report.storedBytes)) stored"
                    )
                    if report.windows.isEmpty {
                        print(
                            "no window: nothing is archived (pitr.enabled: true, and dynokeeper serve running, archive it)"
                        )
                    } else {
                        print("windows (UTC; every moment in one is reachable from a base before it):")
                        for window in report.windows {
                            print(
                                "  \(window)  (stream \(window.replicationID.prefix(8))…, offsets \(window.startOffset)-\(window.endOffset), \(window.segments) segment(s))"
                            )
                        }
                    }
                    if !report.unreachable.isEmpty {
                        print("archived, but with no base before them (a restore cannot reach these):")
                        for window in report.unreachable {
                            print("  \(window)  (stream \(window.replicationID.prefix(8))…)")
                        }
                    }
                    print(report.bases.isEmpty ? "bases: none" : "bases:")
                    for base in report.bases {
                        print(
                            "  \(base.snapshot) at offset \(base.offset) of stream \(base.replicationID.prefix(8))…")
                    }
                }
            }
        }
    }
}
