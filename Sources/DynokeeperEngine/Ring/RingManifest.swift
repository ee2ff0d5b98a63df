public import DynokeeperConfiguration
public import Foundation

/// What a ring snapshot holds: every node's snapshot under one id. Written, last, to
/// `<cluster>/_ring/<snapshot-id>.json` once every node's backup succeeded; a ring snapshot without it is
/// incomplete (the nodes' own snapshots stay usable for single-node restores).
public struct RingManifest: Codable, Sendable, Equatable {
    public static let currentFormat = 1

    public struct Node: Codable, Sendable, Equatable {
        public var datacenter: String
        public var rack: String
        public var tokens: String
        /// The node's snapshot folder in the store.
        public var prefix: String
        /// Where the node's dynokeeper answered.
        public var url: String
        public var size: Int64?
        public var storedSize: Int64?
        public var keys: Int?

        public init(
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

        public var identity: (datacenter: String, rack: String, tokens: String) { (datacenter, rack, tokens) }
    }

    public var format: Int
    public var snapshotID: SnapshotID
    public var cluster: String
    public var type: DynokeeperConfiguration.Backup.PersistenceType
    public var nodes: [Node]
    public var startedAt: Date
    public var finishedAt: Date

    enum CodingKeys: String, CodingKey {
        case format, cluster, type, nodes, startedAt, finishedAt
        case snapshotID = "snapshotId"
    }

    public init(
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

    public static let folderName = "_ring"

    /// `<cluster>/_ring/`.
    public static func folder(cluster: String) -> String { "\(cluster)/\(folderName)/" }

    /// `<cluster>/_ring/<snapshot-id>.json`.
    public static func key(cluster: String, id: SnapshotID) -> String { folder(cluster: cluster) + id.text + ".json" }
}
