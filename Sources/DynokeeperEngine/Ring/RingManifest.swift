package import DynokeeperConfiguration
package import Foundation

/// What a ring snapshot holds: every node's snapshot under one id. Written, last, to
/// `<cluster>/_ring/<snapshot-id>.json` once every node's backup succeeded; a ring snapshot without it is
/// incomplete (the nodes' own snapshots stay usable for single-node restores).
package struct RingManifest: Codable, Sendable, Equatable {
    package static let currentFormat = 1

    package struct Node: Codable, Sendable, Equatable {
        package var datacenter: String
        package var rack: String
        package var tokens: String
        /// The node's snapshot folder in the store.
        package var prefix: String
        /// Where the node's dynokeeper answered.
        package var url: String
        package var size: Int64?
        package var storedSize: Int64?
        package var keys: Int?

        package init(
            datacenter: String, rack: String, tokens: String, prefix: String, url: String, size: Int64? = nil,
            storedSize: Int64? = nil, keys: Int? = nil
        ) {
            self.datacenter = datacenter
            self.rack = rack
            self.tokens = tokens
            self.prefix = prefix
            self.url = url
            self.size = size
            self.storedSize = storedSize
            self.keys = keys
        }

        package var identity: (datacenter: String, rack: String, tokens: String) { (datacenter, rack, tokens) }
    }

    package var format: Int
    package var snapshotID: SnapshotID
    package var cluster: String
    package var type: DynokeeperConfiguration.Backup.PersistenceType
    package var nodes: [Node]
    package var startedAt: Date
    package var finishedAt: Date

    enum CodingKeys: String, CodingKey {
        case format, cluster, type, nodes, startedAt, finishedAt
        case snapshotID = "snapshotId"
    }

    package init(
        snapshotID: SnapshotID, cluster: String, type: DynokeeperConfiguration.Backup.PersistenceType, nodes: [Node],
        startedAt: Date, finishedAt: Date
    ) {
        self.format = Self.currentFormat
        self.snapshotID = snapshotID
        self.cluster = cluster
        self.type = type
        self.nodes = nodes
        self.startedAt = startedAt
        self.finishedAt = finishedAt
    }

    package static let folderName = "_ring"

    /// `<cluster>/_ring/`.
    package static func folder(cluster: String) -> String { "\(cluster)/\(folderName)/" }

    /// `<cluster>/_ring/<snapshot-id>.json`.
    package static func key(cluster: String, id: SnapshotID) -> String { folder(cluster: cluster) + id.text + ".json" }
}
