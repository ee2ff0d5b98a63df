public import Foundation

/// One snapshot as listings show it (`dynokeeper snapshots --json`, `GET /v1/snapshots`).
public struct SnapshotSummary: Encodable, Sendable {
    public var id: String
    public var cluster: String
    public var datacenter: String
    public var rack: String
    public var tokens: String
    public var type: String
    public var size: Int64
    public var storedSize: Int64
    public var keys: Int
    public var startedAt: Date
    public var finishedAt: Date
    /// The snapshot's folder in the store.
    public var prefix: String

    public init(_ entry: SnapshotEntry) {
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
