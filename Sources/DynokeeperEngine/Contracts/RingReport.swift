package import Foundation

/// What a ring backup or restore did, node by node (`/v1/ring/jobs`, `dynokeeper ring … --json`).
package struct RingReport: Sendable, Codable, Equatable {
    package enum Kind: String, Sendable, Codable {
        case backup, restore
    }

    /// What happened on one node.
    package struct NodeOutcome: Sendable, Codable, Equatable {
        package enum State: String, Sendable, Codable {
            case succeeded, failed, unreachable
        }

        package var url: String
        /// `dc/rack/tokens`, when the node answered.
        package var node: String?
        /// For restores: the node whose data it got.
        package var source: String?
        package var job: String?
        package var state: State
        package var step: String?
        package var seconds: Double?
        package var error: String?
        package var result: JobResult?

        package init(url: String, node: String? = nil, state: State, error: String? = nil) {
            self.url = url
            self.node = node
            self.state = state
            self.error = error
        }
    }

    package var kind: Kind
    package var cluster: String
    package var snapshotID: String?
    package var succeeded: Bool
    package var ringManifest: String?
    package var dryRun: Bool
    package var nodes: [NodeOutcome]
    package var error: String?
    /// Point-in-time ring restores: the moment every node was brought to.
    package var toTime: Date? = nil

    enum CodingKeys: String, CodingKey {
        case kind, cluster, succeeded, ringManifest, dryRun, nodes, error, toTime
        case snapshotID = "snapshotId"
    }

    package init(
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
package struct RingJob: Sendable, Codable, Equatable {
    package var id: String
    package var kind: RingReport.Kind
    package var state: Job.State
    package var trigger: String
    package var createdAt: Date
    package var finishedAt: Date?
    package var report: RingReport?
    package var error: String?
    package var errorCode: DynokeeperError.Code?

    package init(id: String, kind: RingReport.Kind, trigger: String, createdAt: Date) {
        self.id = id
        self.kind = kind
        self.state = .running
        self.trigger = trigger
        self.createdAt = createdAt
    }

    package var isFinished: Bool { state == .succeeded || state == .failed }
}
