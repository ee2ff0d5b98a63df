package import Foundation

/// One snapshot as listings show it (`dynokeeper snapshots --json`, `GET /v1/snapshots`).
package struct SnapshotSummary: Encodable, Sendable {
    package var id: String
    package var cluster: String
    package var datacenter: String
    package var rack: String
    package var tokens: String
    package var type: String
    package var size: Int64
    package var storedSize: Int64
    package var keys: Int
    package var startedAt: Date
    package var finishedAt: Date
    /// The snapshot's folder in the store.
    package var prefix: String
    /// `true` when its id is ahead of this node's clock (a node whose clock ran fast): restores ignore it unless it
    /// is named; absent otherwise.
    package var future: Bool?

    package init(_ entry: SnapshotEntry, now: Date = Date()) {
        future = entry.id.isFuture(now: now) ? true : nil
        id = entry.id.text
        cluster = entry.node.cluster
        datacenter = entry.node.datacenter
        rack = entry.node.rack
        tokens = entry.node.tokens
        type = entry.manifest.type.rawValue
        size = entry.manifest.size
        storedSize = entry.manifest.storedSize
        keys = entry.manifest.keyCount
        startedAt = entry.manifest.startedAt
        finishedAt = entry.manifest.finishedAt
        prefix = entry.prefix
    }
}
