/// Every key the configuration file accepts, with what it expects; anything else is an error.
package enum ConfigurationKeys {
    package struct Key: Sendable {
        /// The dotted path, such as `storage.url`.
        package var path: String
        /// What the value must be, as shown in error messages.
        package var expected: String
        /// Whether `config check` hides the value.
        package var secret: Bool

        init(_ path: String, _ expected: String, secret: Bool = false) {
            self.path = path
            self.expected = expected
            self.secret = secret
        }

        /// The environment variable that overrides it: `DYNOKEEPER_STORAGE_URL` for `storage.url`.
        package var environmentVariable: String {
            "DYNOKEEPER_" + path.uppercased().replacingOccurrences(of: ".", with: "_")
        }
    }

    static let name = "a name of letters, digits, '.', '_' or '-'"

    /// dynokeeper's own keys, in the order `config check` prints them.
    package static let native: [Key] = [
        Key(
            "config.dynomite_manager_properties",
            "the path of a Dynomite-manager .properties file, read as it is (relative to this file)"),
        Key("cluster", name),
        Key("node.dynomite_yaml", "the path of the node's dynomite.yml"),
        Key("node.datacenter", name),
        Key("node.rack", name),
        Key("node.tokens", "the node's token(s): unsigned 32-bit integers, comma-separated"),
        Key(
            "node.state_dir",
            "the folder of dynokeeper's lock and restore journal (default: .dynokeeper in Redis's data folder)"),
        Key(
            "node.command_environment",
            "a list of environment variable names passed on to redis.start/stop and dynomite.start/stop"),
        Key("redis.host", "a host name or IP address"),
        Key("redis.port", "a port number (1-65535)"),
        Key("redis.user", "an ACL user name"),
        Key("redis.password_file", "the path of a file holding the Redis password"),
        Key("redis.conf", "the path of redis.conf"),
        Key("redis.data_dir", "the path of Redis's data folder"),
        Key("redis.start", "a shell command that starts Redis (needed by restores)"),
        Key("redis.stop", "a shell command that stops Redis (default: SHUTDOWN NOSAVE)"),
        Key("dynomite.start", "a shell command that starts Dynomite"),
        Key("dynomite.stop", "a shell command that stops Dynomite"),
        Key("dynomite.host", "the host Dynomite listens on"),
        Key("dynomite.port", "a port number (1-65535)"),
        Key("storage.url", "s3://bucket[/prefix], file:///absolute/path, or a local path"),
        Key("storage.endpoint", "http(s)://host[:port] of an S3-compatible service"),
        Key("storage.region", "an AWS region such as us-east-1"),
        Key("storage.path_style", "true or false"),
        Key("storage.part_size_mb", "an integer from 5 to 4095 (MiB)"),
        Key("storage.concurrency", "an integer from 1 to 64"),
        Key("storage.buffer_mb", "an integer from 16 to 65536 (MiB)"),
        Key(
            "storage.max_attempts",
            "an integer from 1 to 100: tries of a request, or of a transfer that makes no progress"),
        Key(
            "storage.give_up_after_seconds",
            "an integer from 1 to 86400: how long after its first failure a request is given up"),
        Key("storage.server_side_encryption", "AES256 or aws:kms"),
        Key("storage.kms_key_id", "a KMS key id or ARN (with server_side_encryption: aws:kms)"),
        Key("storage.profile", "an AWS profile name from ~/.aws/credentials or ~/.aws/config"),
        Key("storage.local_file_mode", "an octal mode such as 0600 (default) or 0640: the local store's files"),
        Key("storage.local_folder_mode", "an octal mode such as 0700 (default) or 0750: the local store's folders"),
        Key("backup.enabled", "true or false"),
        Key("backup.type", "rdb or aof"),
        Key("backup.compression", "zstd or none"),
        Key("backup.compression_level", "a zstd level from 1 to 19"),
        Key("backup.schedule", "\"daily HH:MM\" (UTC) or a five-field cron expression"),
        Key("backup.scope", "node or ring"),
        Key("backup.method", "file, stream or auto"),
        Key("backup.keep_redis_lzf", "true or false"),
        Key("backup.format", "dynokeeper, or dynomite-manager (also writes Dynomite-manager's daily object)"),
        Key("restore.enabled", "true or false"),
        Key("restore.date", "a date (2026-11-20), date and time (2026-11-20T14:00, 2026-11-20T14:00:00Z) or yyyyMMdd"),
        Key(
            "restore.to_time",
            "a moment (2026-11-20T14:03:07Z, fractions of a second allowed): restores go to it with the archived commands (pitr)"
        ),
        Key("restore.source_cluster", name),
        Key("restore.source_datacenter", name),
        Key("restore.source_rack", name),
        Key("restore.method", "files or online"),
        Key("restore.on_start", "true or false: serve restores once when it starts (needs restore.enabled)"),
        Key("restore.format", "dynokeeper, dynomite-manager or auto (the newest of either layout)"),
        Key(
            "restore.timezone",
            "a time zone name such as UTC (default) or America/Los_Angeles: where restore dates' days are read, and Dynomite-manager's daily objects named"
        ),
        Key("retention.keep_last", "an integer from 0"),
        Key("retention.keep_hourly", "an integer from 0"),
        Key("retention.keep_daily", "an integer from 0"),
        Key("retention.keep_weekly", "an integer from 0"),
        Key("retention.keep_monthly", "an integer from 0"),
        Key("retention.keep_within", "a duration such as 36h or 7d"),
        Key("pitr.enabled", "true or false: serve archives Redis's command stream for restores to any second"),
        Key("pitr.segment_seconds", "an integer from 1 to 3600 (default 60): how often the archive is stored"),
        Key("pitr.segment_mb", "an integer from 1 to 512 (default 16): the most a segment holds before it is stored"),
        Key("verify.schedule", "\"daily HH:MM\" (UTC) or a five-field cron expression"),
        Key("verify.load", "true or false"),
        Key("verify.redis_server", "the redis-server a restore drill starts"),
        Key(
            "encryption.key_file",
            "the path of a file holding at least 32 bytes of secret (not world-readable): new snapshots are encrypted with it"
        ),
        Key(
            "encryption.previous_key_files",
            "a list of paths of earlier key files, which still decrypt the snapshots taken with them"),
        Key("ring.peers", "a list of the peer dynokeepers' base URLs (http://host:port)"),
        Key("ring.peer_port", "a port number (1-65535): the peers' API port on the dyn_seeds hosts"),
        Key("ring.ca_file", "the path of the PEM certificate authorities https:// peers are checked against"),
        Key(
            "ring.allow_plaintext", "true or false: allow http:// peers off loopback (the token then crosses in clear)"),
        Key("server.listen", "host:port, such as 127.0.0.1:8080 (port 0: any free port)"),
        Key("server.token", "the bearer token the REST API requires", secret: true),
        Key("server.token_file", "the path of a file holding the bearer token"),
        Key(
            "server.dynomite_manager_tokenless",
            "true or false: serve Dynomite-manager's acting admin GETs without a token on loopback (old scripts)"),
        Key(
            "server.allowed_hosts",
            "a list of more host names requests may be addressed to (besides addresses, localhost, this machine's name and the ring's peers)"
        ),
        Key("server.tls_cert_file", "the path of the API's PEM certificate chain (with server.tls_key_file: HTTPS)"),
        Key("server.tls_key_file", "the path of the API's PEM private key"),
        Key(
            "server.client_ca_file",
            "the path of PEM certificate authorities whose client certificates the API requires"),
        Key("log.level", "trace, debug, info, notice, warning, error or critical"),
        Key("log.format", "text or json"),
    ]

    /// Netflix Dynomite-manager's property names, accepted with its meaning and defaults.
    package static let dynomiteManager: [Key] = [
        Key(DynomiteManagerKeys.bucket, "an S3 bucket name (default dynomite-backup)"),
        Key(DynomiteManagerKeys.baseDir, "an S3 key prefix (default backup)"),
        Key(DynomiteManagerKeys.snapshotEnabled, "true or false"),
        Key(DynomiteManagerKeys.restoreEnabled, "true or false"),
        Key(DynomiteManagerKeys.hour, "an hour from 0 to 23 (default 12)"),
        Key(DynomiteManagerKeys.schedule, "day or week"),
        Key(DynomiteManagerKeys.restoreDate, "a date as yyyyMMdd"),
    ]

    package static let all: [Key] = native + dynomiteManager

    static func key(_ path: String) -> Key? { all.first { $0.path == path } }

    /// Whether some accepted key (or Dynomite-manager spelling) lies under `path`, for nested YAML mappings.
    static func hasKeys(under path: String) -> Bool {
        all.contains { $0.path.hasPrefix(path + ".") }
            || DynomiteManagerKeys.spellings.keys.contains {
                $0.hasPrefix(path + ".")
            }
    }

    /// The known key closest to a mistyped one, for "did you mean".
    static func suggestion(for path: String) -> String? {
        let scored = all.map { ($0.path, editDistance($0.path, path)) }.min { $0.1 < $1.1 }
        guard let (best, distance) = scored, distance <= max(2, path.count / 4) else { return nil }
        return best
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.utf8), b = Array(b.utf8)
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}

/// Dynomite-manager's property names.
package enum DynomiteManagerKeys {
    package static let bucket = "dynomitemanager.dyno.backup.bucket.name"
    package static let baseDir = "dynomitemanager.dyno.backup.s3.base_dir"
    package static let snapshotEnabled = "dynomitemanager.dyno.backup.snapshot.enabled"
    package static let restoreEnabled = "dynomitemanager.dyno.backup.restore.enabled"
    package static let hour = "dynomitemanager.dyno.backup.hour"
    package static let schedule = "dynomitemanager.dyno.backup.schedule"
    package static let restoreDate = "dynomitemanager.dyno.backup.restore.date"

    /// The environment variable forms: the property name as is, or upper-cased with `_` for `.`.
    static func environmentVariables(_ key: String) -> [String] {
        [key, upperCased(key)]
    }

    static func upperCased(_ key: String) -> String { key.uppercased().replacingOccurrences(of: ".", with: "_") }

    /// The prefixes Dynomite-manager's generations read its backup settings under: its v2 (archaius2) names, late
    /// 2016 to 2017's `dm.`, 2016's `florida.`, and the wiki's, which dynokeeper keeps as its canonical spelling.
    /// Any other key under one of them is an error, in files and in the environment alike.
    package static let backupPrefixes = [
        "dynomitemanager.dyno.backup.", "dbsidecar.common.dyno.backup.", "dbsidecar.aws.dyno.backup.",
        "dm.dyno.backup.", "florida.dyno.backup.",
    ]

    /// Every spelling Dynomite-manager reads, to the key dynokeeper reads it as: the canonical
    /// `dynomitemanager.dyno.backup.*` key, or dynokeeper's own for its persistence and Dynomite scripts.
    package static let spellings: [String: String] = {
        let common = [
            "snapshot.enabled": snapshotEnabled, "restore.enabled": restoreEnabled, "schedule": schedule,
            "hour": hour, "restore.date": restoreDate,
        ]
        let aws = ["bucket.name": bucket, "s3.base_dir": baseDir]
        var table: [String: String] = [:]
        for prefix in ["dm.dyno.backup.", "florida.dyno.backup."] {
            for (suffix, key) in common.merging(aws, uniquingKeysWith: { a, _ in a }) { table[prefix + suffix] = key }
        }
        for (suffix, key) in common { table["dbsidecar.common.dyno.backup." + suffix] = key }
        for (suffix, key) in aws { table["dbsidecar.aws.dyno.backup." + suffix] = key }
        table["florida.dyno.persistence.type"] = "backup.type"
        table["florida.dyno.persistence.directory"] = "redis.data_dir"
        table["florida.dyno.startscript"] = "dynomite.start"
        table["florida.dyno.stopscript"] = "dynomite.stop"
        return table
    }()

    /// Names Dynomite-manager reads that mean nothing to dynokeeper: accepted wherever its names are (so that its
    /// files and variables work as they are), and listed as not used by `config check`.
    /// `florida.dyno.persistence.enabled` made Dynomite-manager write Redis's persistence settings; dynokeeper leaves
    /// redis.conf to its owner.
    package static let unused: Set<String> = ["florida.dyno.persistence.enabled"]

    /// The key a spelling is read as (itself when it is not an alias).
    package static func canonical(_ path: String) -> String { spellings[path] ?? path }

    /// Whether a key is one of the names Dynomite-manager reads (any generation's spelling, or the wiki's).
    static func isDynomiteManagerName(_ path: String) -> Bool {
        spellings[path] != nil || ConfigurationKeys.dynomiteManager.contains { $0.path == path }
    }

    /// Whether a key lies under one of Dynomite-manager's prefixes (so that an unknown one is an error).
    static func isUnderDynomiteManagerPrefix(_ path: String) -> Bool {
        backupPrefixes.contains { path.hasPrefix($0) } || path.hasPrefix("florida.dyno.persistence.")
    }
}
