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

    /// What a listing found: the complete snapshots, newest first, and the folders whose manifest cannot be read.
    package struct Scan: Sendable {
        package var entries: [SnapshotEntry]
        package var damaged: [Damaged]

        /// Fails with the first damaged manifest's error: a listing that left one out could make a restore take an
        /// older snapshot without a word.
        package func complete() throws -> [SnapshotEntry] {
            if let first = damaged.first { throw first.error }
            return entries
        }
    }

    /// A snapshot folder whose manifest cannot be read or is damaged.
    package struct Damaged: Sendable {
        package var prefix: String
        package var id: SnapshotID
        package var error: any Error
    }

    /// The node's complete snapshots, newest first.
    /// - Throws: When any of its manifests cannot be read (see ``Scan/complete()``).
    package func snapshots(of node: NodeIdentity) async throws -> [SnapshotEntry] {
        try await scan(of: node).complete()
    }

    /// One of the node's complete snapshots, by id: only its own manifest must be readable.
    /// - Throws: Its manifest's error when that one is damaged; `not_found` when there is no such snapshot.
    package func snapshot(_ id: SnapshotID, of node: NodeIdentity) async throws -> SnapshotEntry {
        let scan = try await scan(of: node)
        if let damaged = scan.damaged.first(where: { $0.id == id }) { throw damaged.error }
        guard let entry = scan.entries.first(where: { $0.id == id }) else {
            throw DynokeeperError(
                .notFound, "no complete snapshot \(id) of \(node.cluster) \(node) in \(store.location)")
        }
        return entry
    }

    /// The node's snapshots, the damaged ones apart: for the commands that name one, or check each.
    package func scan(of node: NodeIdentity) async throws -> Scan {
        var scan = try await find(prefix: SnapshotLayout.nodePrefix(node), cluster: node.cluster)
        scan.entries = scan.entries.filter {
            $0.node.datacenter == node.datacenter && $0.node.rack == node.rack && $0.node.tokens == node.tokens
        }
        return scan
    }

    /// What loading one manifest gave.
    private struct Loaded: Sendable {
        var key: String
        var entry: SnapshotEntry?
        var error: (any Error)?
    }

    /// A snapshot folder without a manifest: a backup under way, or one that failed or was killed (`gc` removes
    /// those older than a day).
    package struct Incomplete: Sendable {
        package var prefix: String
        package var id: SnapshotID
        package var objects: Int
        package var bytes: Int64
        /// Uploads that never finished in it (S3 multipart uploads, a local store's temporary files): a backup
        /// killed in its first upload leaves a folder with only these.
        package var uploads = 0
    }

    /// The node's snapshot folders that have no manifest, newest first.
    package func incomplete(of node: NodeIdentity) async throws -> [Incomplete] {
        var folders: [String: Incomplete] = [:]
        var complete: Set<String> = []
        func entry(_ folder: (prefix: String, id: SnapshotID)) -> Incomplete {
            folders[folder.prefix] ?? Incomplete(prefix: folder.prefix, id: folder.id, objects: 0, bytes: 0)
        }
        for info in try await store.listAll(prefix: SnapshotLayout.nodePrefix(node)) {
            guard let folder = SnapshotLayout.snapshotFolder(containing: info.key) else { continue }
            if info.key == folder.prefix + SnapshotLayout.manifestName { complete.insert(folder.prefix) }
            var found = entry(folder)
            found.objects += 1
            found.bytes += info.size
            folders[folder.prefix] = found
        }
        if let cleaning = store as? any IncompleteUploadCleaning {
            for upload in try await cleaning.incompleteUploads(prefix: SnapshotLayout.nodePrefix(node)) {
                guard let folder = SnapshotLayout.snapshotFolder(containing: upload.key) else { continue }
                var found = entry(folder)
                found.uploads += 1
                folders[folder.prefix] = found
            }
        }
        return folders.values.filter { !complete.contains($0.prefix) }.sorted { $0.id > $1.id }
    }

    /// Every node's complete snapshots in a cluster, newest first.
    package func snapshots(cluster: String) async throws -> [SnapshotEntry] {
        try await find(prefix: cluster + "/", cluster: cluster).complete()
    }

    private func find(prefix: String, cluster: String) async throws -> Scan {
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
        var damaged: [Damaged] = []
        // The child tasks' results are a struct, not a tuple: the release build of Swift 6.3 crashed copying a tuple
        // of a string and an enum with an existential out of a task group.
        await withTaskGroup(of: Loaded.self) { group in
            var pending = manifests[...]
            func schedule() {
                guard let key = pending.popFirst() else { return }
                group.addTask {
                    do { return Loaded(key: key, entry: try await self.load(key), error: nil) } catch {
                        return Loaded(key: key, entry: nil, error: error)
                    }
                }
            }
            for _ in 0..<8 { schedule() }
            while let loaded = await group.next() {
                if var entry = loaded.entry {
                    entry.pinned = pinned.contains(entry.prefix)
                    entries.append(entry)
                } else if let error = loaded.error, let folder = SnapshotLayout.snapshotFolder(containing: loaded.key) {
                    damaged.append(Damaged(prefix: folder.prefix, id: folder.id, error: error))
                }
                schedule()
            }
        }
        return Scan(
            entries: entries.sorted { ($0.id, $0.node.description) > ($1.id, $1.node.description) },
            damaged: damaged.sorted { $0.id > $1.id })
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
