extension DynokeeperConfiguration.Backup {
    /// Reads the `backup.*` keys and Dynomite-manager's snapshot switch and schedule.
    init(reading reader: inout TypedReader) throws {
        let enabled = try reader.aliasedBool("backup.enabled", DynomiteManagerKeys.snapshotEnabled)
        let hour = try reader.parsed(DynomiteManagerKeys.hour) { text -> Int in
            guard let hour = Int(text), (0...23).contains(hour) else { throw ConfigurationError("not an hour") }
            return hour
        }
        let dmSchedule = try reader.parsed(DynomiteManagerKeys.schedule) { text -> String in
            guard ["day", "week"].contains(text.lowercased()) else { throw ConfigurationError("not day or week") }
            return text
        }
        let schedule: BackupSchedule
        if let native = try reader.parsed("backup.schedule", BackupSchedule.init(parsing:)) {
            if hour != nil || dmSchedule != nil,
                let dynomiteManagers = BackupSchedule.dynomiteManager(
                    hour: hour?.value ?? 12, schedule: dmSchedule?.value ?? "day"),
                !dynomiteManagers.runsAtTheSameMoments(as: native.value)
            {
                let theirs = reader.alias([DynomiteManagerKeys.hour, DynomiteManagerKeys.schedule])
                throw ConfigurationError(
                    "backup.schedule (\(native.origin)) and Dynomite-manager's schedule (\(theirs)) disagree: keep one")
            }
            schedule = native.value
            reader.record("backup.schedule", schedule.description, native.origin)
        } else if hour != nil || dmSchedule != nil {
            schedule = BackupSchedule.dynomiteManager(hour: hour?.value ?? 12, schedule: dmSchedule?.value ?? "day")!
            reader.record(
                "backup.schedule", schedule.description,
                reader.alias([DynomiteManagerKeys.hour, DynomiteManagerKeys.schedule]))
        } else if reader.raw[DynomiteManagerKeys.snapshotEnabled] != nil {
            // Dynomite-manager's backup switch without its hour: its default hour, at minute 1 as it ran.
            schedule = BackupSchedule.dynomiteManager(hour: 12, schedule: "day")!
            reader.record(
                "backup.schedule", schedule.description,
                .alias(of: [reader.named(DynomiteManagerKeys.snapshotEnabled), "Dynomite-manager's default hour 12"]))
        } else {
            schedule = .daily(hour: 12, minute: 0)
            reader.record("backup.schedule", schedule.description, .defaultValue)
        }
        let type = try reader.choice("backup.type", default: PersistenceType.rdb, what: "type")
        let compression = try reader.choice("backup.compression", default: Compression.zstd, what: "compression")
        let level = try reader.int("backup.compression_level", default: 1, range: 1...19)!
        let scope = try reader.choice("backup.scope", default: Scope.node, what: "scope")
        let method = try reader.choice("backup.method", default: Method.auto, what: "method")
        self.init(
            enabled: enabled, schedule: schedule, type: type, compression: compression, compressionLevel: level,
            scope: scope, method: method)
        format = try reader.choice("backup.format", default: Format.dynokeeper, what: "format")
        let keepLZF = try reader.bool("backup.keep_redis_lzf")
        keepRedisLZF = keepLZF?.value ?? false
        reader.record("backup.keep_redis_lzf", String(keepRedisLZF), keepLZF?.origin ?? .defaultValue)
        if format == .dynomiteManager && type != .rdb {
            throw ConfigurationError(
                "backup.format dynomite-manager writes Dynomite-manager's one object per day, which cannot hold Redis 7's AOF of several files: use backup.type rdb (Dynomite-manager restores an RDB into an AOF node too)"
            )
        }
    }
}
