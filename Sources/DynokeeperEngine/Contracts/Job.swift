public import DynokeeperConfiguration
public import Foundation

/// A backup, restore or other operation the daemon runs, as the REST API shows it (`/v1/jobs`) and as a ring
/// coordinator reads it from its peers.
public struct Job: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable {
        case backup, restore, snapshot
    }

    public enum State: String, Sendable, Codable {
        case queued, running, succeeded, failed
    }

    public var id: String
    public var kind: Kind
    public var state: State
    /// What it is doing now, such as `upload dump.rdb`.
    public var step: String?
    /// Bytes moved so far and in all, for the transfer under way.
    public var progressBytes: Int64 = 0
    public var totalBytes: Int64 = 0
    /// What was asked for.
    public var parameters: JobParameters
    /// What came out, such as the snapshot id.
    public var result: JobResult?
    public var error: String?
    /// The error's code, as in the API's error bodies.
    public var errorCode: DynokeeperError.Code?
    /// Who asked: `api`, `schedule`, `dynomite-manager`.
    public var trigger: String
    public var createdAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?

    public init(id: String, kind: Kind, parameters: JobParameters, trigger: String, createdAt: Date) {
        self.id = id
        self.kind = kind
        self.state = .running
        self.parameters = parameters
        self.trigger = trigger
        self.createdAt = createdAt
        self.startedAt = createdAt
    }

    /// Seconds from start to finish (or to now).
    public var durationSeconds: Double? {
        guard let startedAt else { return nil }
        return (finishedAt ?? Date()).timeIntervalSince(startedAt)
    }

    public var isFinished: Bool { state == .succeeded || state == .failed }
}

/// What a job was asked to do; only the fields of its kind are set.
public struct JobParameters: Sendable, Codable, Equatable {
    /// Backups: `rdb` or `aof`.
    public var type: DynokeeperConfiguration.Backup.PersistenceType?
    /// Restores: the node whose snapshot is restored, `cluster/dc/rack/tokens`.
    public var source: String?
    /// Restores: the newest snapshot at or before this moment.
    public var date: Date?
    /// Restores: exactly this snapshot; backups: the id asked for (ring backups).
    public var snapshot: String?
    public var dryRun: Bool?
    /// Recoveries of an unfinished restore: `resume` or `rollback`.
    public var action: String?

    public init(
        type: DynokeeperConfiguration.Backup.PersistenceType? = nil, source: String? = nil, date: Date? = nil,
        snapshot: String? = nil, dryRun: Bool? = nil, action: String? = nil
    ) {
        self.type = type
        self.source = source
        self.date = date
        self.snapshot = snapshot
        self.dryRun = dryRun
        self.action = action
    }
}

/// What a job produced; only the fields of its kind are set. The CLI's `--json` prints the same shape.
public struct JobResult: Sendable, Codable, Equatable {
    /// The snapshot taken or restored.
    public var snapshot: String?
    /// Backups: where the snapshot is, such as `s3://bucket/prefix/cluster/dc1/rack1/0/20261124T020000Z/`.
    public var location: String?
    /// Backups: bytes before compression and bytes stored.
    public var size: Int64?
    public var storedSize: Int64?
    /// Backups and snapshots: keys in all databases.
    public var keys: Int?
    /// Restores: the node whose data was restored, `cluster/dc/rack/tokens`.
    public var source: String?
    /// Restores: each step and how long it took (planned steps, without durations, on a dry run).
    public var steps: [Step]?
    /// Restores: messages about the checks and the loaded data.
    public var notes: [String]?
    public var dryRun: Bool?
    /// Rollbacks: what was put back.
    public var outcome: String?

    public struct Step: Sendable, Codable, Equatable {
        public var name: String
        public var seconds: Double?

        public init(name: String, seconds: Double?) {
            self.name = name
            self.seconds = seconds
        }
    }

    public init(
        snapshot: String? = nil, location: String? = nil, size: Int64? = nil, storedSize: Int64? = nil, keys: Int? = nil,
        source: String? = nil, steps: [Step]? = nil, notes: [String]? = nil, dryRun: Bool? = nil, outcome: String? = nil
    ) {
        self.snapshot = snapshot
        self.location = location
        self.size = size
        self.storedSize = storedSize
        self.keys = keys
        self.source = source
        self.steps = steps
        self.notes = notes
        self.dryRun = dryRun
        self.outcome = outcome
    }
}
