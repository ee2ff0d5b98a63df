import ArgumentParser
import DynokeeperConfiguration
import DynokeeperEngine
import Foundation

struct SnapshotsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshots",
        abstract: "List the complete snapshots of this node (or of every node of the cluster).")

    @OptionGroup var options: GlobalOptions

    @Option(help: "The cluster to look in (default: this node's, from the configuration).")
    var cluster: String?

    @Flag(help: "Every node of the cluster, not just this one.")
    var allNodes = false

    @Flag(help: "One JSON object per line instead of a table.")
    var json = false

    func run() async throws {
        try await reportingErrors {
            try await NodeContext.with(options) { context in
                let catalog = SnapshotCatalog(store: context.store, logger: context.logger)
                var node = context.node.identity
                if let cluster { node.cluster = cluster }
                let entries =
                    allNodes
                    ? try await catalog.snapshots(cluster: node.cluster) : try await catalog.snapshots(of: node)
                if json {
                    let encoder = SnapshotManifest.makeEncoder(pretty: false)
                    for entry in entries {
                        print(String(decoding: try encoder.encode(SnapshotSummary(entry)), as: UTF8.self))
                    }
                } else {
                    printTable(entries)
                }
            }
        }
    }

    func printTable(_ entries: [SnapshotEntry]) {
        let rows =
            [["ID", "NODE", "TYPE", "SIZE", "STORED", "KEYS", "AGE"]]
            + entries.map { entry in
                [
                    entry.id.text, "\(entry.node.cluster)/\(entry.node)", entry.manifest.type.rawValue,
                    Format.bytes(entry.manifest.size), Format.bytes(entry.manifest.storedSize),
                    String(entry.manifest.keyCount),
                    Format.age(entry.id.date),
                ]
            }
        let widths = (0..<7).map { column in rows.map { $0[column].count }.max() ?? 0 }
        for row in rows {
            print(
                row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(
                    separator: "  "))
        }
        if entries.isEmpty { print("(no complete snapshots)") }
    }
}
