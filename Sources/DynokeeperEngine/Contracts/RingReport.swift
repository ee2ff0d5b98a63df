public import Foundation

/// What a ring backup or restore did, node by node (`/v1/ring/jobs`, `dynokeeper ring … --json`).
public struct RingReport: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable {
        case backup, restore
    }

    /// What happened on one node.
    public struct NodeOutcome: Sendable, Codable, Equatable {
        public enum State: String, Sendable, Codable {
            case succeeded, failed, unreachable
        }

        public var url: String
        /// `dc/rack/tokens`, when the node answered.
        public var node: String?
        /// For restores: the node whose data it got.
        public var source: String?
        public var job: String?
        public var state: State
        public var step: String?
        public var seconds: Double?
        public var error: String?
        public var result: JobResult?

        public init(url: String, node: String? = nil, state: State, error: String? = nil) {
            self.url = url
            self.node = node
            self.state = state
            self.error = error
        }
    }

    public var kind: Kind
    public var cluster: String
    public var snapshotID: String?
    public var succeeded: Bool
    public var ringManifest: String?
    public var dryRun: Bool
    public var nodes: [NodeOutcome]
    public var error: String?

    enum CodingKeys: String, CodingKey {
        case kind, cluster, succeeded, ringManifest, dryRun, nodes, error
        case snapshotID = "snapshotId"
    }

    public init(
        kind: Kind, cluster: String, snapshotID: String?, succeeded: Bool, ringManifest: String?, dryRun: Bool,
        nodes: [NodeOutcome], error: String?
    ) {
        self.kind = kind
        self.cluster = cluster
        self.snapshotID = snapshotID
        self.succeeded = succeeded
        self.ringManifest = ringManifest
        self.dryRun = dryRun
        self.nodes = nodes
        self.error = error
    }
}

/// A ring backup or restore started through the API (`/v1/ring/jobs`).
public struct RingJob: Sendable, Codable, Equatable {
    public var id: String
    public var kind: RingReport.Kind
    public var state: Job.State
    public var trigger: String
    public var createdAt: Date
    public var finishedAt: Date?
    public var report: RingReport?
    public var error: String?
    public var errorCode: DynokeeperError.Code?

    public init(id: String, kind: RingReport.Kind, trigger: String, createdAt: Date) {
        self.id = id
        self.kind = kind
        self.state = .running
        self.trigger = trigger
        self.createdAt = createdAt
    }

    public var isFinished: Bool { state == .succeeded || state == .failed }
}
