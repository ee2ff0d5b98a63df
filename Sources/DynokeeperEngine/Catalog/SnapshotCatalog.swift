package import DynokeeperConfiguration
import Foundation
package import Logging
package import ObjectStorage

/// A complete snapshot found in the store.
package struct SnapshotEntry: Sendable {
    package var manifest: SnapshotManifest
    /// The snapshot's folder, relative to the store.
    package var prefix: String
    /// Whether it is pinned (``SnapshotPins``): never pruned.
    package var pinned = false

    package var id: SnapshotID { manifest.snapshotID }
    package var node: NodeIdentity { manifest.node }

    package init(manifest: SnapshotManifest, prefix: String, pinned: Bool = false) {
        self.manifest = manifest
        self.prefix = prefix
        self.pinned = pinned
    }
}

/// Finds the complete snapshots (those with a manifest) of a node or of a whole cluster.
package struct SnapshotCatalog: Sendable {
    package let store: any ObjectStore
    package let logger: Logger

    package init(store: any ObjectStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    /// The node's complete snapshots, newest first.
    package func snapshots(of node: NodeIdentity) async throws -> [SnapshotEntry] {
        try await find(prefix: SnapshotLayout.nodePrefix(node), cluster: node.cluster)
            .filter {
                $0.node.datacenter == node.datacenter && $0.node.rack == node.rack && $0.node.tokens == node.tokens
            }
    }

    /// Every node's complete snapshots in a cluster, newest first.
    package func snapshots(cluster: String) async throws -> [SnapshotEntry] {
        try await find(prefix: cluster + "/", cluster: cluster)
    }

    private func find(prefix: String, cluster: String) async throws -> [SnapshotEntry] {
        // <cluster>/<dc>/<rack>/<tokens>/<id>/manifest.json (and pin.json when pinned)
        let keys = try await store.listAll(prefix: prefix).map(\.key).filter { $0.hasPrefix(cluster + "/") }
        let manifests = keys.filter { key in
            guard let folder = SnapshotLayout.snapshotFolder(containing: key) else { return false }
            return key == folder.prefix + SnapshotLayout.manifestName
        }
        let pinned = Set(
            keys.compactMap { key -> String? in
                guard let folder = SnapshotLayout.snapshotFolder(containing: key),
                    key == folder.prefix + SnapshotPins.name
                else { return nil }
                return folder.prefix
            })
        var entries: [SnapshotEntry] = []
        try await withThrowingTaskGroup(of: SnapshotEntry?.self) { group in
            var pending = manifests[...]
            func schedule() {
                guard let key = pending.popFirst() else { return }
                group.addTask { try await self.load(key) }
            }
            for _ in 0..<8 { schedule() }
            while let entry = try await group.next() {
                if var entry {
                    entry.pinned = pinned.contains(entry.prefix)
                    entries.append(entry)
                }
                schedule()
            }
        }
        return entries.sorted { ($0.id, $0.node.description) > ($1.id, $1.node.description) }
    }

    /// Reads one manifest. One that cannot be read or is damaged fails the listing: a shorter list would make a
    /// restore pick an older snapshot without a word. One that describes another folder (copied by hand) is
    /// skipped with a warning.
    private func load(_ key: String) async throws -> SnapshotEntry? {
        let folder = String(key.dropLast(SnapshotLayout.manifestName.count))
        do {
            let bytes = try await store.getBytes(key, limit: 16 << 20)
            let manifest = try SnapshotManifest.decode(Data(bytes.readableBytesView), key: key)
            guard SnapshotLayout.snapshotPrefix(manifest.node, manifest.snapshotID) == folder else {
                logger.warning(
                    "skipping \(key): its manifest describes \(manifest.node) \(manifest.snapshotID), not this folder")
                return nil
            }
            return SnapshotEntry(manifest: manifest, prefix: folder)
        } catch let error as DynokeeperError where error.code == .snapshot {
            throw DynokeeperError.snapshot(
                "\(error); remove or repair that snapshot's manifest (or the whole folder) before listing or restoring")
        } catch let error as ObjectStoreError where error.code == .notFound {
            return nil  // deleted since the listing
        }
    }
}
