public import DynokeeperConfiguration
public import Foundation

/// `POST /v1/backups`: a backup of this node now.
public struct BackupRequest: Sendable, Codable, Equatable {
    /// `rdb` or `aof`; default from `backup.type`.
    public var type: DynokeeperConfiguration.Backup.PersistenceType?
    /// The id to take it under (a ring coordinator gives every node the same one); default now.
    public var snapshotID: SnapshotID?

    enum CodingKeys: String, CodingKey {
        case type
        case snapshotID = "snapshotId"
    }

    public init(type: DynokeeperConfiguration.Backup.PersistenceType? = nil, snapshotID: SnapshotID? = nil) {
        self.type = type
        self.snapshotID = snapshotID
    }
}

/// A restore of this node, as the CLI, `POST /v1/restores`, Dynomite-manager's `restore` and a ring coordinator
/// ask for it. What is not given comes from the configuration (``resolve(_:node:)``).
public struct RestoreRequest: Sendable, Codable, Equatable {
    /// The newest snapshot taken at or before this moment (default `restore.date`, else the newest).
    public var date: Date?
    /// Exactly this snapshot.
    public var snapshot: SnapshotID?
    /// The node whose snapshot is restored, when it differs from this one (default `restore.source_*`).
    public var sourceCluster: String?
    public var sourceDatacenter: String?
    public var sourceRack: String?
    /// Describe the restore and change nothing.
    public var dryRun = false
    /// Restore even a snapshot whose RDB format the node's Redis is older than.
    public var force = false
    /// Only one format of snapshot (the CLI's `--format`); both by default.
    public var format: RestoreSource.Format?
    /// Skip the BGSAVE that makes the set-aside files hold Redis's latest data (the CLI's `--no-safety-save`).
    public var skipSafetySave = false

    // `format` and `skip_safety_save` are the CLI's alone: the API refuses them as unknown fields.
    enum CodingKeys: String, CodingKey {
        case date, snapshot, sourceCluster, sourceDatacenter, sourceRack, dryRun, force
    }

    public init(
        date: Date? = nil, snapshot: SnapshotID? = nil, sourceCluster: String? = nil, sourceDatacenter: String? = nil,
        sourceRack: String? = nil, dryRun: Bool = false, force: Bool = false
    ) {
        self.date = date
        self.snapshot = snapshot
        self.sourceCluster = sourceCluster
        self.sourceDatacenter = sourceDatacenter
        self.sourceRack = sourceRack
        self.dryRun = dryRun
        self.force = force
    }
}

/// `POST /v1/ring/backups`.
public struct RingBackupRequest: Sendable, Codable, Equatable {
    public var type: DynokeeperConfiguration.Backup.PersistenceType?

    public init(type: DynokeeperConfiguration.Backup.PersistenceType? = nil) { self.type = type }
}

/// `POST /v1/ring/restores`: every node restored from its counterpart in a ring snapshot.
public struct RingRestoreRequest: Sendable, Codable, Equatable {
    public var date: Date?
    public var snapshot: SnapshotID?
    /// Restore another cluster's ring snapshot (default `restore.source_cluster`, else this cluster).
    public var sourceCluster: String?
    public var dryRun = false
    /// One rack at a time, so that the cluster keeps serving from the others.
    public var rackByRack = false
    /// `target datacenter/rack` → `source datacenter/rack`.
    public var mapping: [String: String] = [:]

    public init(
        date: Date? = nil, snapshot: SnapshotID? = nil, sourceCluster: String? = nil, dryRun: Bool = false,
        rackByRack: Bool = false, mapping: [String: String] = [:]
    ) {
        self.date = date
        self.snapshot = snapshot
        self.sourceCluster = sourceCluster
        self.dryRun = dryRun
        self.rackByRack = rackByRack
        self.mapping = mapping
    }
}
