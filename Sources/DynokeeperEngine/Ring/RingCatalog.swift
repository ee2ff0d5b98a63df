import DynokeeperConfiguration
package import Foundation
package import Logging
import NIOCore
package import ObjectStorage

/// Finds complete ring snapshots (those with a ring manifest).
package struct RingCatalog: Sendable {
    package let store: any ObjectStore
    package let logger: Logger

    package init(store: any ObjectStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    /// The ids of a cluster's complete ring snapshots, newest first.
    package func ids(cluster: String) async throws -> [SnapshotID] {
        let folder = RingManifest.folder(cluster: cluster)
        return try await store.listAll(prefix: folder).compactMap { info in
            let name = info.key.dropFirst(folder.count)
            guard name.hasSuffix(".json"), !name.contains("/") else { return nil }
            return SnapshotID(String(name.dropLast(5)))
        }.sorted(by: >)
    }

    /// Reads one ring manifest.
    package func manifest(cluster: String, id: SnapshotID) async throws -> RingManifest {
        let key = RingManifest.key(cluster: cluster, id: id)
        let bytes = try await store.getBytes(key, limit: 16 << 20)
        do {
            let manifest = try SnapshotManifest.decoder.decode(RingManifest.self, from: Data(bytes.readableBytesView))
            guard manifest.format <= RingManifest.currentFormat else {
                throw DynokeeperError.snapshot("\(key) has ring manifest format \(manifest.format); upgrade dynokeeper")
            }
            // Its names become store paths and requests to the peers: names that would leave the cluster's folders
            // (or are not names) make it a manifest not to follow.
            for node in manifest.nodes {
                if let problem = NodeSettings.problem(
                    cluster: manifest.cluster, datacenter: node.datacenter, rack: node.rack, tokens: node.tokens)
                {
                    throw DynokeeperError.snapshot("\(key) names a node that cannot be: \(problem)")
                }
            }
            return manifest
        } catch let error as DynokeeperError where error.code == .snapshot {
            throw error
        } catch {
            throw DynokeeperError.snapshot("\(key) is not a readable ring manifest: \(error)")
        }
    }

    /// The newest complete ring snapshot taken at or before `date` (the newest of all without a date), or
    /// exactly `id`.
    /// - Throws: ``DynokeeperError`` listing the ring snapshots there are when none fits.
    /// - Parameter now: The coordinator's clock: a ring snapshot dated in the future is only taken by its id.
    package func choose(cluster: String, date: Date?, id: SnapshotID?, now: Date = Date()) async throws -> RingManifest
    {
        let ids = try await ids(cluster: cluster)
        let bound = min(date ?? .distantFuture, now.addingTimeInterval(SnapshotSelector.clockTolerance))
        let chosen =
            id.flatMap { wanted in ids.first { $0 == wanted } }
            ?? (id == nil ? ids.first { $0.date <= bound } : nil)
        guard let chosen else {
            let wanted =
                id.map { "ring snapshot \($0)" }
                ?? date.map { "ring snapshot taken at or before \($0.formatted(.iso8601))" } ?? "complete ring snapshot"
            throw DynokeeperError.snapshot(
                ids.isEmpty
                    ? "no \(wanted) of cluster \(cluster) in \(store.location): there are no ring snapshots"
                    : "no \(wanted) of cluster \(cluster) in \(store.location); there are: \(ids.map(\.text).joined(separator: ", "))"
            )
        }
        return try await manifest(cluster: cluster, id: chosen)
    }
}
