import ArgumentParser
import DynokeeperConfiguration
import DynokeeperEngine
import Foundation

struct SnapshotsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshots",
        abstract: "List the complete snapshots of this node (or of every node of the cluster), or show one.",
        subcommands: [SnapshotsListCommand.self, SnapshotsShowCommand.self],
        defaultSubcommand: SnapshotsListCommand.self)
}

struct SnapshotsListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the complete snapshots of this node (or of every node of the cluster); the default.")

    @OptionGroup var options: GlobalOptions

    @Option(
        help: "The cluster to look in (default: this node's, from the configuration).",
        transform: storeName("--cluster"))
    var cluster: String?

    @Flag(help: "Every node of the cluster, not just this one.")
    var allNodes = false

    @Flag(help: "One JSON object per line instead of a table.")
    var json = false

    @Flag(help: "Also list snapshot folders without a manifest (backups under way, failed or killed), with their age.")
    var includeIncomplete = false

    @Option(help: "List Dynomite-manager's objects of this node instead (dynomite-manager).")
    var format: String?

    func run() async throws {
        try await reportingErrors {
            try await NodeContext.with(options) { context in
                let catalog = SnapshotCatalog(store: context.store, logger: context.logger)
                var node = context.node.identity
                if let cluster { node.cluster = cluster }
                if let format {
                    guard format == "dynomite-manager" else {
                        throw ValidationError("--format lists dynomite-manager objects; without it, dynokeeper's")
                    }
                    let objects = try await SnapshotSelector(store: context.store, logger: context.logger)
                        .dynomiteManagerObjects(node).sorted { $0.id > $1.id }
                    for object in objects {
                        print(
                            "\(object.id)  \(object.info.key)  \(Format.bytes(object.info.size))  \(object.id.isFuture() ? "in the future (restores skip it)" : Format.age(object.id.date))"
                        )
                    }
                    print(
                        "\(objects.count) Dynomite-manager object(s) of \(node) (one per day; restore --format dynomite-manager)"
                    )
                    return
                }
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
                    // The moments a point-in-time restore reaches on this node, when it has an archive.
                    if !allNodes {
                        let archive = PointInTimeArchive(store: context.store, keys: context.components.keys)
                        let windows = PointInTimeArchive.reachable(try await archive.segments(of: node), bases: entries)
                            .windows
                        if !windows.isEmpty {
                            print(
                                "point-in-time archive (restore --to-time): \(windows.map(\.description).joined(separator: ", "))"
                            )
                        }
                    }
                }
                if includeIncomplete {
                    for folder in try await catalog.incomplete(of: node) {
                        print(
                            "incomplete \(folder.id)  \(folder.prefix)  \(folder.objects) object(s), \(Format.bytes(folder.bytes))\(folder.uploads > 0 ? ", \(folder.uploads) unfinished upload(s)" : ""), \(Format.age(folder.id.date)) old (no manifest: never listed or restored; gc removes it after a day)"
                        )
                    }
                }
            }
        }
    }

    func printTable(_ entries: [SnapshotEntry]) {
        let rows =
            [["ID", "NODE", "TYPE", "SIZE", "STORED", "KEYS", "AGE"]]
            + entries.map { entry in
                [
                    entry.id.text + (entry.pinned ? " (pinned)" : "")
                        + (entry.id.isFuture() ? " (dated in the future: restores skip it unless named)" : ""),
                    "\(entry.node.cluster)/\(entry.node)",
                    entry.manifest.type.rawValue,
                    Format.bytes(entry.manifest.size), Format.bytes(entry.manifest.storedSize),
                    String(entry.manifest.keyCount),
                    entry.id.isFuture() ? "in the future" : Format.age(entry.id.date),
                ]
            }
        let widths = (0..<7).map { column in rows.map { $0[column].count }.max() ?? 0 }
        for row in rows {
            print(
                row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(
                    separator: "  "))
        }
        if entries.isEmpty {
            print("(no complete snapshots)")
        } else {
            let stored = entries.reduce(Int64(0)) { $0 + $1.manifest.storedSize }
            let pinned = entries.filter(\.pinned).count
            // As restores see it: a snapshot dated in the future is never the newest.
            let newest = entries.first { !$0.id.isFuture() }.map(\.id.text) ?? "none (all dated in the future)"
            print(
                "\(entries.count) snapshot(s)\(pinned > 0 ? ", \(pinned) pinned" : ""), \(Format.bytes(stored)) stored, newest \(newest), oldest \(entries.last!.id)"
            )
        }
    }
}

struct SnapshotsShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show one snapshot: its files, sizes and SHA-256, key counts, Redis, host, method and durations.")

    @OptionGroup var options: GlobalOptions

    @Argument(help: "The snapshot id (such as 20261124T020000Z).")
    var id: String

    @Option(
        help: "The cluster to look in (default: this node's, from the configuration).",
        transform: storeName("--cluster"))
    var cluster: String?

    @Flag(help: "Print the manifest as JSON.")
    var json = false

    func run() async throws {
        try await reportingErrors {
            try await NodeContext.with(options) { context in
                var node = context.node.identity
                if let cluster { node.cluster = cluster }
                let entry = try await SnapshotCatalog(store: context.store, logger: context.logger).snapshot(
                    try SnapshotID.parse(id, as: "the snapshot id"), of: node)
                let manifest = entry.manifest
                if json {
                    print(
                        String(decoding: try SnapshotManifest.makeEncoder(pretty: true).encode(manifest), as: UTF8.self)
                    )
                    return
                }
                print(
                    "snapshot \(entry.id) of \(manifest.node.cluster) \(manifest.node), in \(context.store.location)/\(entry.prefix)"
                )
                print("  type: \(manifest.type.rawValue)\(manifest.method.map { ", taken by \($0.rawValue)" } ?? "")")
                print(
                    "  taken: \(manifest.startedAt.formatted(.iso8601)) to \(manifest.finishedAt.formatted(.iso8601)) (\(Format.duration(.seconds(manifest.finishedAt.timeIntervalSince(manifest.startedAt)))))"
                )
                print("  host: \(manifest.hostname), Redis \(manifest.redis.version) at \(manifest.redis.address)")
                print(
                    "  by: \(manifest.tool.name) \(manifest.tool.version), compression \(manifest.compression.algorithm)\(manifest.compression.level.map { " -\($0)" } ?? "")\(manifest.rdbVersion.map { ", RDB format \($0)" } ?? "")\(manifest.encryption.map { ", encrypted with key \($0.keyFingerprint)" } ?? "")"
                )
                print("  files (\(Format.bytes(manifest.size)), \(Format.bytes(manifest.storedSize)) stored):")
                for file in manifest.files {
                    print(
                        "    \(file.name): \(Format.bytes(file.size)), \(Format.bytes(file.storedSize)) stored as \(file.object), sha256 \(file.sha256)"
                    )
                }
                if let pin = try await SnapshotPins(store: context.store).pin(of: entry) {
                    print(
                        "  pinned: since \(pin.pinnedAt.formatted(.iso8601))\(pin.note.map { ", note: \($0)" } ?? "") (prune keeps it)"
                    )
                }
                print("  keys\(manifest.keyspaceExact ? "" : " (approximate: AOF)"):")
                for (database, count) in manifest.keyspace.sorted(by: { $0.key < $1.key }) {
                    print("    \(database): \(count.keys) keys, \(count.expires) with a TTL")
                }
            }
        }
    }
}
