package import DynokeeperConfiguration
package import Foundation

/// `POST /v1/backups`: a backup of this node now.
package struct BackupRequest: Sendable, Codable, Equatable {
    /// `rdb` or `aof`; default from `backup.type`.
    package var type: DynokeeperConfiguration.Backup.PersistenceType?
    /// The id to take it under (a ring coordinator gives every node the same one); default now.
    package var snapshotID: SnapshotID?

    enum CodingKeys: String, CodingKey {
        case type
        case snapshotID = "snapshotId"
    }

    package init(type: DynokeeperConfiguration.Backup.PersistenceType? = nil, snapshotID: SnapshotID? = nil) {
        self.type = type
        self.snapshotID = snapshotID
    }
}

/// A restore of this node, as the CLI, `POST /v1/restores`, Dynomite-manager's `restore` and a ring coordinator
/// ask for it. What is not given comes from the configuration (``options(_:node:)``).
package struct RestoreRequest: Sendable, Codable, Equatable {
    /// The newest snapshot taken at or before this moment (default `restore.date`, else the newest).
    package var date: Date?
    /// Exactly this snapshot.
    package var snapshot: SnapshotID?
    /// The state of the node at exactly this moment: a base snapshot, then the archived commands up to it
    /// (point-in-time recovery; default `restore.to_time` when neither `date` nor `snapshot` is given).
    package var toTime: Date?
    /// The node whose snapshot is restored, when it differs from this one (default `restore.source_*`).
    package var sourceCluster: String?
    package var sourceDatacenter: String?
    package var sourceRack: String?
    /// Describe the restore and change nothing.
    package var dryRun = false
    /// Restore even a snapshot whose RDB format the node's Redis is older than.
    package var force = false
    /// Only one format of snapshot, or the newest of both (the CLI's `--format`; default `restore.format`).
    package var format: DynokeeperConfiguration.Restore.Format?
    /// Skip the BGSAVE that makes the set-aside files hold Redis's latest data (the CLI's `--no-safety-save`).
    package var skipSafetySave = false

    // `format` and `skip_safety_save` are the CLI's alone: the API refuses them as unknown fields.
    enum CodingKeys: String, CodingKey {
        case date, snapshot, toTime, sourceCluster, sourceDatacenter, sourceRack, dryRun, force
    }

    /// Refuses a request that names its moment twice.
    /// - Throws: `invalid_request`.
    package func checkPoint() throws(DynokeeperError) {
        if toTime != nil && (date != nil || snapshot != nil) {
            throw DynokeeperError(
                .invalidRequest, "to_time goes with neither date nor snapshot: a point-in-time restore picks its base")
        }
    }

    package init(
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
package struct RingBackupRequest: Sendable, Codable, Equatable {
    package var type: DynokeeperConfiguration.Backup.PersistenceType?

    package init(type: DynokeeperConfiguration.Backup.PersistenceType? = nil) { self.type = type }
}

/// `POST /v1/ring/restores`: every node restored from its counterpart in a ring snapshot.
package struct RingRestoreRequest: Sendable, Codable, Equatable {
    package var date: Date?
    package var snapshot: SnapshotID?
    /// Every node to the state it had at this moment (point-in-time recovery on each).
    package var toTime: Date?
    /// Restore another cluster's ring snapshot (default `restore.source_cluster`, else this cluster).
    package var sourceCluster: String?
    package var dryRun = false
    /// One rack at a time, so that the cluster keeps serving from the others.
    package var rackByRack = false
    /// `target datacenter/rack` → `source datacenter/rack`.
    package var mapping: [String: String] = [:]

    package init(
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
