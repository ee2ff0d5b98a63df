package import DynokeeperConfiguration
package import Foundation

/// A backup, restore or other operation the daemon runs, as the REST API shows it (`/v1/jobs`) and as a ring
/// coordinator reads it from its peers.
package struct Job: Sendable, Codable, Equatable {
    package enum Kind: String, Sendable, Codable {
        case backup, restore, snapshot, verification
    }

    package enum State: String, Sendable, Codable {
        case running, succeeded, failed
    }

    package var id: String
    package var kind: Kind
    package var state: State
    /// What it is doing now, such as `upload dump.rdb`.
    package var step: String?
    /// Bytes moved so far and in all, for the transfer under way.
    package var progressBytes: Int64 = 0
    package var totalBytes: Int64 = 0
    /// What was asked for.
    package var parameters: JobParameters
    /// What came out, such as the snapshot id.
    package var result: JobResult?
    package var error: String?
    /// The error's code, as in the API's error bodies.
    package var errorCode: DynokeeperError.Code?
    /// Who asked: `api`, `schedule`, `dynomite-manager`.
    package var trigger: String
    package var createdAt: Date
    package var startedAt: Date?
    package var finishedAt: Date?
    /// How long it ran, in seconds with their fraction (the timestamps are to the second), once it has finished.
    package var seconds: Double?

    package init(id: String, kind: Kind, parameters: JobParameters, trigger: String, createdAt: Date) {
        self.id = id
        self.kind = kind
        self.state = .running
        self.parameters = parameters
        self.trigger = trigger
        self.createdAt = createdAt
        self.startedAt = createdAt
    }

    package var isFinished: Bool { state == .succeeded || state == .failed }
}

/// What a job was asked to do; only the fields of its kind are set.
package struct JobParameters: Sendable, Codable, Equatable {
    /// Backups: `rdb` or `aof`.
    package var type: DynokeeperConfiguration.Backup.PersistenceType?
    /// Restores: the node whose snapshot is restored, `cluster/dc/rack/tokens`.
    package var source: String?
    /// Restores: the newest snapshot at or before this moment.
    package var date: Date?
    /// Point-in-time restores: the moment the node is brought to.
    package var toTime: Date? = nil
    /// Restores: exactly this snapshot; backups: the id asked for (ring backups).
    package var snapshot: String?
    package var dryRun: Bool?
    /// Recoveries of an unfinished restore: `resume` or `rollback`.
    package var action: String?
    /// Verifications: every snapshot rather than the newest (or `snapshot`), and whether each is loaded too.
    package var all: Bool?
    package var load: Bool?

    package init(
        type: DynokeeperConfiguration.Backup.PersistenceType? = nil, source: String? = nil, date: Date? = nil,
        snapshot: String? = nil, dryRun: Bool? = nil, action: String? = nil, all: Bool? = nil, load: Bool? = nil
    ) {
        self.all = all
        self.load = load
        self.type = type
        self.source = source
        self.date = date
        self.snapshot = snapshot
        self.dryRun = dryRun
        self.action = action
    }
}

/// What a job produced; only the fields of its kind are set. The CLI's `--json` prints the same shape.
package struct JobResult: Sendable, Codable, Equatable {
    /// The snapshot taken or restored.
    package var snapshot: String?
    /// Backups: where the snapshot is, such as `s3://bucket/prefix/cluster/dc1/rack1/0/20261124T020000Z/`.
    package var location: String?
    /// Backups: bytes before compression and bytes stored.
    package var size: Int64?
    package var storedSize: Int64?
    /// Backups and snapshots: keys in all databases.
    package var keys: Int?
    /// Restores: the node whose data was restored, `cluster/dc/rack/tokens`.
    package var source: String?
    /// Restores: each step and how long it took (planned steps, without durations, on a dry run).
    package var steps: [Step]?
    /// Restores: messages about the checks and the loaded data.
    package var notes: [String]?
    package var dryRun: Bool?
    /// Rollbacks: what was put back.
    package var outcome: String?
    /// Verifications: one report per snapshot.
    package var verifications: [SnapshotVerifier.Report]?

    package struct Step: Sendable, Codable, Equatable {
        package var name: String
        package var seconds: Double?

        package init(name: String, seconds: Double?) {
            self.name = name
            self.seconds = seconds
        }
    }

    package init(
        snapshot: String? = nil, location: String? = nil, size: Int64? = nil, storedSize: Int64? = nil,
        keys: Int? = nil,
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
