package import DynokeeperConfiguration
package import Foundation
package import RedisClient

/// `POST /v1/prune` (and `dynokeeper prune`): the rules; without any, the configuration's `retention:`.
package struct PruneRequest: Sendable, Codable, Equatable {
    package var keepLast: Int?
    package var keepHourly: Int?
    package var keepDaily: Int?
    package var keepWeekly: Int?
    package var keepMonthly: Int?
    /// A duration such as `36h` or `7d`.
    package var keepWithin: String?
    package var dryRun = false

    package init(
        keepLast: Int? = nil, keepHourly: Int? = nil, keepDaily: Int? = nil, keepWeekly: Int? = nil,
        keepMonthly: Int? = nil, keepWithin: String? = nil, dryRun: Bool = false
    ) {
        self.keepLast = keepLast
        self.keepHourly = keepHourly
        self.keepDaily = keepDaily
        self.keepWeekly = keepWeekly
        self.keepMonthly = keepMonthly
        self.keepWithin = keepWithin
        self.dryRun = dryRun
    }

    /// The rules asked for, else the configuration's.
    /// - Throws: `invalid_request` for a negative count or a duration that does not parse.
    package func policy(_ retention: DynokeeperConfiguration.Retention) throws(DynokeeperError) -> RetentionPolicy {
        let counts = [
            ("keep_last", keepLast), ("keep_hourly", keepHourly), ("keep_daily", keepDaily),
            ("keep_weekly", keepWeekly), ("keep_monthly", keepMonthly),
        ]
        if let (name, value) = counts.first(where: { ($0.1 ?? 0) < 0 }) {
            throw DynokeeperError(.invalidRequest, "\(name) must be 0 or more, not \(value!)")
        }
        var within: Duration?
        if let keepWithin {
            guard let duration = DurationText.parse(keepWithin) else {
                throw DynokeeperError(
                    .invalidRequest, "keep_within \(keepWithin) is not a duration such as 36h or 7d")
            }
            within = duration
        }
        guard counts.contains(where: { $0.1 != nil }) || within != nil else { return RetentionPolicy(retention) }
        return RetentionPolicy(
            last: keepLast ?? 0, hourly: keepHourly ?? 0, daily: keepDaily ?? 0, weekly: keepWeekly ?? 0,
            monthly: keepMonthly ?? 0, within: within)
    }
}

/// What a prune did (or would do): every snapshot of the node, newest first.
package struct PruneReport: Sendable, Codable, Equatable {
    package var dryRun: Bool
    package var snapshots: [SnapshotPruner.Decision]

    package init(dryRun: Bool, snapshots: [SnapshotPruner.Decision]) {
        self.dryRun = dryRun
        self.snapshots = snapshots
    }
}

/// A snapshot's pin (`POST`/`DELETE /v1/snapshots/{id}/pin`, and in ``SnapshotDetail``).
package struct PinState: Sendable, Codable, Equatable {
    package var snapshot: String
    package var pinned: Bool
    package var pinnedAt: Date?
    package var note: String?

    package init(snapshot: String, pinned: Bool, pinnedAt: Date? = nil, note: String? = nil) {
        self.snapshot = snapshot
        self.pinned = pinned
        self.pinnedAt = pinnedAt
        self.note = note
    }
}

/// `GET /v1/snapshots/{id}`: one snapshot as `snapshots show` prints it.
package struct SnapshotDetail: Sendable, Encodable {
    package struct File: Sendable, Encodable {
        package var name: String
        package var object: String
        package var size: Int64
        package var storedSize: Int64
        package var sha256: String
    }

    package var snapshot: SnapshotSummary
    package var files: [File]
    /// Keys and keys with a TTL, per database (`db0`, …).
    package var keyspace: [String: RedisInfo.Keyspace]
    package var keyspaceExact: Bool
    /// `file` or `stream` (absent before dynokeeper recorded it).
    package var method: String?
    package var redisVersion: String
    package var hostname: String
    package var toolVersion: String
    package var compression: String
    package var rdbVersion: Int?
    /// The fingerprint of the key the files are encrypted with; absent when they are stored in clear.
    package var encryptionKeyFingerprint: String?
    package var pin: PinState

    package init(_ entry: SnapshotEntry, pin: SnapshotPins.Pin?) {
        let manifest = entry.manifest
        snapshot = SnapshotSummary(entry)
        files = manifest.files.map {
            File(name: $0.name, object: $0.object, size: $0.size, storedSize: $0.storedSize, sha256: $0.sha256)
        }
        keyspace = manifest.keyspace
        keyspaceExact = manifest.keyspaceExact
        method = manifest.method?.rawValue
        redisVersion = manifest.redis.version
        hostname = manifest.hostname
        toolVersion = manifest.tool.version
        compression = manifest.compression.algorithm + (manifest.compression.level.map { " -\($0)" } ?? "")
        rdbVersion = manifest.rdbVersion
        encryptionKeyFingerprint = manifest.encryption?.keyFingerprint
        self.pin = PinState(snapshot: entry.id.text, pinned: pin != nil, pinnedAt: pin?.pinnedAt, note: pin?.note)
    }
}

/// `POST /v1/verifications` (and a scheduled verification): which snapshots, and whether to load them.
package struct VerificationRequest: Sendable, Codable, Equatable {
    /// This snapshot; the newest without it (unless `all`).
    package var snapshot: SnapshotID?
    package var all = false
    package var load = false

    package init(snapshot: SnapshotID? = nil, all: Bool = false, load: Bool = false) {
        self.snapshot = snapshot
        self.all = all
        self.load = load
    }
}
