import DynokeeperConfiguration
import Foundation
import Testing

@Suite struct ConfigurationTests {
    static func parse(_ yaml: String, environment: [String: String] = [:]) throws -> DynokeeperConfiguration {
        try DynokeeperConfiguration.parse(yaml: yaml, path: "test.yml", environment: environment)
    }

    static func error(_ yaml: String, environment: [String: String] = [:]) -> String {
        do {
            _ = try parse(yaml, environment: environment)
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    @Test func theDocumentedExampleParses() throws {
        let configuration = try Self.parse(
            """
            cluster: prod-users            # the cluster's name, used in the snapshot layout
            node:
              dynomite_yaml: /etc/dynomite/dynomite.yml
              datacenter: dc1
              rack: rack1
              tokens: "0"
            redis:
              host: 127.0.0.1
              port: 6379
              password_file: /etc/redis/password
              conf: /etc/redis/redis.conf
              data_dir: /var/lib/redis
            storage:
              url: s3://my-bucket/some/prefix
              endpoint: http://127.0.0.1:8333
              region: us-east-1
              path_style: true
              part_size_mb: 16
              concurrency: 8
              server_side_encryption: aws:kms
              kms_key_id: alias/backups
            backup:
              enabled: false
            restore:
              enabled: false
            """)
        #expect(configuration.cluster == "prod-users")
        #expect(configuration.node.dynomiteYAML == "/etc/dynomite/dynomite.yml")
        #expect(configuration.node.tokens == "0")
        #expect(configuration.redis.port == 6379)
        #expect(configuration.redis.passwordFile == "/etc/redis/password")
        #expect(configuration.storage.url == .s3(bucket: "my-bucket", prefix: "some/prefix"))
        #expect(configuration.storage.endpoint == "http://127.0.0.1:8333")
        #expect(configuration.storage.pathStyle == true)
        #expect(configuration.storage.serverSideEncryption == .kms)
        #expect(configuration.storage.kmsKeyID == "alias/backups")
        #expect(configuration.backup.enabled == false)
        #expect(configuration.restore.enabled == false)
    }

    @Test func anEmptyFileMeansDefaults() throws {
        let configuration = try Self.parse("")
        #expect(configuration.cluster == "dynomite")
        #expect(configuration.redis.host == nil)  // dynomite.yml's servers, else 127.0.0.1:6379
        #expect(configuration.redis.port == nil)
        #expect(configuration.backup.type == .rdb)
        #expect(configuration.backup.compression == .zstd)
        #expect(configuration.backup.compressionLevel == 1)
        #expect(configuration.storage.url == .file(path: "var/backups"))
        #expect(configuration.storage.region == "us-east-1")
        #expect(configuration.storage.partSizeMB == 8)
        #expect(configuration.storage.concurrency == 8)
        #expect(configuration.storage.bufferMB == 32)
        #expect(configuration.backup.method == .auto)
        #expect(configuration.backup.keepRedisLZF == false)
        #expect(configuration.restore.method == .files)
        #expect(configuration.backup.enabled == false)
        #expect(configuration.backup.schedule == .daily(hour: 12, minute: 0))
        #expect(configuration.restore.enabled == false)
        #expect(configuration.restore.date == nil)
        #expect(configuration.log.format == .text)
        #expect(configuration.effective.first { $0.key == "storage.url" }?.origin == .defaultValue)
    }

    @Test func unknownKeysAreErrorsWithSuggestions() {
        #expect(
            Self.error("storage:\n  urll: s3://bucket-x\n")
                == "unknown configuration key storage.urll (test.yml line 2); did you mean storage.url?")
        #expect(Self.error("clster: x\n").contains("did you mean cluster?"))
        #expect(
            Self.error("nothing_like_it:\n  at_all: 1\n").hasPrefix(
                "unknown configuration key nothing_like_it (test.yml line 1)"))
        #expect(
            Self.error("", environment: ["DYNOKEEPER_STORAGE_ULR": "x"]).hasPrefix(
                "unknown environment variable DYNOKEEPER_STORAGE_ULR"))
    }

    @Test func wrongTypesAndImpossibleValuesNameTheKey() {
        #expect(
            Self.error("redis:\n  port: abc\n")
                == "redis.port (test.yml line 2): expected a port number (1-65535), got \"abc\"")
        #expect(Self.error("redis:\n  port: 70000\n").hasPrefix("redis.port (test.yml line 2): expected a port number"))
        #expect(
            Self.error("storage:\n  path_style: maybe\n").hasPrefix(
                "storage.path_style (test.yml line 2): expected true or false"))
        #expect(Self.error("storage:\n  part_size_mb: 2\n").contains("expected an integer from 5 to 4095"))
        // A part is gathered in one buffer, which holds less than 4 GiB (4096 crashed every backup).
        #expect(Self.error("storage:\n  part_size_mb: 4096\n").contains("expected an integer from 5 to 4095"))
        #expect(Self.error("storage:\n  url: [a, b]\n").contains("got a list"))
        #expect(Self.error("cluster: prod/users\n").contains("cluster (test.yml line 1): expected a name"))
        #expect(Self.error("node:\n  tokens: abc\n").contains("tokens are unsigned 32-bit integers"))
        #expect(Self.error("storage:\n  url: ftp://x\n").contains("unsupported storage scheme"))
        #expect(Self.error("storage:\n  url: s3://My_Bucket\n").contains("bucket names have 3 to 63"))
        #expect(Self.error("storage:\n  endpoint: 127.0.0.1:8333\n").contains("must start with http://"))
        #expect(Self.error("storage:\n  server_side_encryption: rot13\n").contains("expected AES256 or aws:kms"))
        #expect(Self.error("storage:\n  kms_key_id: k\n").contains("server_side_encryption is not aws:kms"))
        #expect(Self.error("backup:\n  schedule: daily 25:00\n").contains("HH from 00 to 23"))
        #expect(Self.error("backup:\n  schedule: 0 */6 * *\n").contains("it needs five fields"))
        #expect(Self.error("backup:\n  schedule: 61 * * * *\n").contains("minute field \"61\" has 61 outside 0-59"))
        #expect(Self.error("restore:\n  date: 2026-02-30\n").contains("is not a date"))
        #expect(Self.error("restore:\n  method: fast\n").contains("restore.method (test.yml line 2)"))
        #expect(Self.error("storage:\n  buffer_mb: 8\n").contains("expected an integer from 16 to 65536"))
        #expect(Self.error("storage: [\n").hasPrefix("test.yml is not valid YAML"))
        #expect(Self.error("- a\n- b\n").hasPrefix("test.yml must be a mapping"))
        #expect(Self.error("storage:\n  url: /a\nstorage.url: /b\n").contains("storage.url is set twice"))
    }

    @Test func onlyLoopbackAddressesAreLoopback() throws {
        func loopback(_ listen: String) throws -> Bool {
            try Self.parse("server:\n  listen: \"\(listen)\"\n").server.isLoopback
        }
        #expect(try loopback("127.0.0.1:8080"))
        #expect(try loopback("127.1.2.3:8080"))
        #expect(try loopback("localhost:8080"))
        #expect(try loopback("[::1]:8080"))
        #expect(try !loopback("127.evil.example:8080"))
        #expect(try !loopback("128.0.0.1:8080"))
        #expect(try !loopback("0.0.0.0:8080"))
    }

    @Test func streamedBackupsCanKeepRedisLZF() throws {
        #expect(try Self.parse("backup:\n  keep_redis_lzf: true\n").backup.keepRedisLZF)
        #expect(try Self.parse("", environment: ["DYNOKEEPER_BACKUP_KEEP_REDIS_LZF": "true"]).backup.keepRedisLZF)
        #expect(
            Self.error("backup:\n  keep_redis_lzf: sometimes\n").contains("backup.keep_redis_lzf (test.yml line 2)"))
    }

    @Test func restoresCanLoadOnline() throws {
        #expect(try Self.parse("restore:\n  method: online\n").restore.method == .online)
        #expect(try Self.parse("", environment: ["DYNOKEEPER_RESTORE_METHOD": "online"]).restore.method == .online)
        #expect(try Self.parse("storage:\n  buffer_mb: 128\n").storage.bufferMB == 128)
    }

    @Test func environmentOverridesTheFile() throws {
        let configuration = try Self.parse(
            "storage:\n  url: /from/file\nredis:\n  port: 7000\n",
            environment: [
                "DYNOKEEPER_STORAGE_URL": "s3://env-bucket/p", "DYNOKEEPER_REDIS_PORT": "7001",
                "AWS_REGION": "eu-west-3",
            ])
        #expect(configuration.storage.url == .s3(bucket: "env-bucket", prefix: "p"))
        #expect(configuration.redis.port == 7001)
        #expect(configuration.storage.region == "eu-west-3")
        #expect(
            configuration.effective.first { $0.key == "redis.port" }?.origin
                == .environment(variable: "DYNOKEEPER_REDIS_PORT"))
        let bad = Self.error("", environment: ["DYNOKEEPER_REDIS_PORT": "x"])
        #expect(
            bad
                == "redis.port (environment variable DYNOKEEPER_REDIS_PORT): expected a port number (1-65535), got \"x\""
        )
    }

    @Test func dynomiteManagerPropertiesInTheFile() throws {
        let flat = try Self.parse(
            """
            dynomitemanager.dyno.backup.bucket.name: legacy-backups
            dynomitemanager.dyno.backup.snapshot.enabled: true
            dynomitemanager.dyno.backup.restore.enabled: "true"
            dynomitemanager.dyno.backup.hour: 3
            dynomitemanager.dyno.backup.schedule: week
            dynomitemanager.dyno.backup.restore.date: 20261120
            """)
        #expect(flat.storage.url == .s3(bucket: "legacy-backups", prefix: "backup"))
        #expect(flat.backup.enabled)
        #expect(flat.restore.enabled)
        #expect(flat.backup.schedule.description == "1 3 * * 1")
        #expect(flat.restore.date == ISO8601DateFormatter().date(from: "2026-11-20T23:59:59Z"))
        #expect(
            flat.effective.first { $0.key == "storage.url" }?.origin
                == .alias(of: [
                    "dynomitemanager.dyno.backup.bucket.name (test.yml line 1)", "Dynomite-manager's defaults",
                ]))

        let nested = try Self.parse(
            """
            dynomitemanager:
              dyno:
                backup:
                  s3:
                    base_dir: nightly
                  hour: 5
            """)
        #expect(nested.storage.url == .s3(bucket: "dynomite-backup", prefix: "nightly"))
        #expect(nested.backup.schedule == .daily(hour: 5, minute: 1))
    }

    @Test func dynomiteManagerPropertiesFromTheEnvironment() throws {
        let configuration = try Self.parse(
            "",
            environment: [
                "dynomitemanager.dyno.backup.bucket.name": "from-env-dotted",
                "DYNOMITEMANAGER_DYNO_BACKUP_SNAPSHOT_ENABLED": "true",
            ])
        #expect(configuration.storage.url == .s3(bucket: "from-env-dotted", prefix: "backup"))
        #expect(configuration.backup.enabled)
    }

    /// What Dynomite-manager really reads, generation by generation, means what the wiki's names mean.
    @Test func everyGenerationOfDynomiteManagerNamesIsRead() throws {
        for prefix in ["dm.dyno.backup.", "florida.dyno.backup."] {
            let configuration = try Self.parse(
                "\(prefix)bucket.name: gen-bucket\n\(prefix)s3.base_dir: base\n\(prefix)snapshot.enabled: true\n\(prefix)hour: 4\n"
            )
            #expect(configuration.storage.url == .s3(bucket: "gen-bucket", prefix: "base"), "\(prefix)")
            #expect(configuration.backup.enabled && configuration.backup.schedule == .daily(hour: 4, minute: 1))
        }
        let v2 = try Self.parse(
            """
            dbsidecar.aws.dyno.backup.bucket.name: v2-bucket
            dbsidecar.aws.dyno.backup.s3.base_dir: v2base
            dbsidecar.common.dyno.backup.snapshot.enabled: true
            dbsidecar.common.dyno.backup.restore.date: 20261120
            florida.dyno.persistence.type: aof
            florida.dyno.persistence.directory: /var/lib/redis
            florida.dyno.startscript: /apps/dynomite/bin/launch_dynomite.sh
            florida.dyno.stopscript: /apps/dynomite/bin/kill_dynomite.sh
            """)
        #expect(v2.storage.url == .s3(bucket: "v2-bucket", prefix: "v2base"))
        #expect(v2.backup.enabled && v2.restore.date != nil)
        #expect(v2.backup.type == .aof && v2.redis.dataDir == "/var/lib/redis")
        #expect(v2.dynomite.start == "/apps/dynomite/bin/launch_dynomite.sh")
        #expect(v2.dynomite.stop == "/apps/dynomite/bin/kill_dynomite.sh")
        // v2's default bucket differs from the earlier generations'.
        #expect(
            try Self.parse("dbsidecar.aws.dyno.backup.s3.base_dir: only-base\n").storage.url
                == .s3(bucket: "us-east-1.dynomite-backup-test", prefix: "only-base"))
        #expect(
            try Self.parse("dm.dyno.backup.s3.base_dir: only-base\n").storage.url
                == .s3(bucket: "dynomite-backup", prefix: "only-base"))
        // From the environment, as the property name or its upper-case form.
        let environment = try Self.parse(
            "",
            environment: [
                "DBSIDECAR_AWS_DYNO_BACKUP_BUCKET_NAME": "env-bucket", "dm.dyno.backup.snapshot.enabled": "true",
            ])
        #expect(environment.storage.url == .s3(bucket: "env-bucket", prefix: "backup"))
        #expect(environment.backup.enabled)
    }

    @Test func dynomiteManagerNamesThatAreUnknownOrDisagreeAreRefused() {
        #expect(Self.error("dbsidecar.common.dyno.backup.bucket.name: x\n").contains("unknown configuration key"))
        #expect(Self.error("florida.dyno.backup.hours: 3\n").contains("unknown configuration key"))
        #expect(
            Self.error("", environment: ["DBSIDECAR_COMMON_DYNO_BACKUP_HOURS": "3"]).contains(
                "unknown environment variable DBSIDECAR_COMMON_DYNO_BACKUP_HOURS"))
        #expect(
            Self.error("", environment: ["florida.dyno.backup.snapshot.enable": "true"]).contains(
                "unknown environment variable"))
        let disagree = Self.error("dm.dyno.backup.hour: 3\nflorida.dyno.backup.hour: 4\n")
        #expect(
            disagree.contains("dm.dyno.backup.hour") && disagree.contains("florida.dyno.backup.hour"), "\(disagree)")
        #expect(disagree.contains("disagree"))
        #expect(Self.error("dm.dyno.backup.hour: 3\nflorida.dyno.backup.hour: 3\n") == "no error")
        let native = Self.error("backup:\n  type: rdb\nflorida.dyno.persistence.type: aof\n")
        #expect(native.contains("backup.type") && native.contains("florida.dyno.persistence.type"), "\(native)")
        let environment = Self.error(
            "", environment: ["DM_DYNO_BACKUP_HOUR": "3", "DBSIDECAR_COMMON_DYNO_BACKUP_HOUR": "5"])
        #expect(environment.contains("disagree"), "\(environment)")
        let forms = Self.error("", environment: ["DM_DYNO_BACKUP_HOUR": "3", "dm.dyno.backup.hour": "5"])
        #expect(forms.contains("DM_DYNO_BACKUP_HOUR") && forms.contains("disagree"), "\(forms)")
    }

    @Test func conflictingSettingsAreRefused() {
        #expect(
            Self.error("storage:\n  url: /x\ndynomitemanager.dyno.backup.bucket.name: b-b-b\n").contains(
                "both say where backups go"))
        #expect(
            Self.error("backup:\n  enabled: true\ndynomitemanager.dyno.backup.snapshot.enabled: false\n").contains(
                "disagree"))
        #expect(
            Self.error("backup:\n  schedule: daily 01:00\ndm.dyno.backup.hour: 3\n").contains(
                "backup.schedule (test.yml line 2) and Dynomite-manager's schedule (from dm.dyno.backup.hour (test.yml line 3)) disagree"
            ))
        // Two names of one setting that agree are fine; errors name the key as it was written.
        let agreeing = try? Self.parse(
            "backup:\n  schedule: daily 03:01\nrestore:\n  date: 2025-11-20\ndm.dyno.backup.hour: 3\n"
                + "florida.dyno.backup.restore.date: 20251120\n")
        #expect(agreeing?.backup.schedule == .daily(hour: 3, minute: 1))
        #expect(
            Self.error("restore:\n  date: 2025-11-21\nflorida.dyno.backup.restore.date: 20251120\n").contains(
                "florida.dyno.backup.restore.date (test.yml line 3) disagree"))
        #expect(Self.error("dm.dyno.backup.hour: 25\n").hasPrefix("dm.dyno.backup.hour (test.yml line 1): expected"))
        #expect(Self.error("dynomitemanager.dyno.backup.schedule: month\n").contains("not day or week"))
        #expect(Self.error("dynomitemanager.dyno.backup.restore.date: 2026-11-20\n").contains("yyyyMMdd"))
    }

    @Test func loadingAFileThatIsNotThere() throws {
        let missing = "/nonexistent/dynokeeper.yml"
        #expect(throws: ConfigurationError("configuration file \(missing) does not exist")) {
            _ = try DynokeeperConfiguration.load(path: missing, environment: [:])
        }
        // Without --config, a missing ./dynokeeper.yml means defaults.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cfg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("given.yml").path
        try "cluster: from-env-path\n".write(toFile: file, atomically: false, encoding: .utf8)
        #expect(
            try DynokeeperConfiguration.load(path: nil, environment: ["DYNOKEEPER_CONFIG": file]).cluster
                == "from-env-path")
    }
}

@Suite struct ScheduleAndDateTests {
    @Test func cronFieldsExpand() throws {
        let cron = try CronExpression(parsing: "0 */6 1,15 jan-mar mon-fri")
        #expect(cron.minutes == [0])
        #expect(cron.hours == [0, 6, 12, 18])
        #expect(cron.daysOfMonth == [1, 15])
        #expect(cron.months == [1, 2, 3])
        #expect(cron.daysOfWeek == [1, 2, 3, 4, 5])
        #expect(!cron.anyDayOfMonth)
        #expect(try CronExpression(parsing: "30 2 * * 7").daysOfWeek == [0])
        #expect(try CronExpression(parsing: "5-20/5 * * * *").minutes == [5, 10, 15, 20])
        #expect(throws: ConfigurationError.self) { _ = try CronExpression(parsing: "* * * * * *") }
        #expect(throws: ConfigurationError.self) { _ = try CronExpression(parsing: "10-5 * * * *") }
        #expect(throws: ConfigurationError.self) { _ = try CronExpression(parsing: "*/0 * * * *") }
    }

    @Test(arguments: [
        ("2026-11-20", "2026-11-20T23:59:59Z"),
        ("20261120", "2026-11-20T23:59:59Z"),
        ("2026-11-20T14:00", "2026-11-20T14:00:00Z"),
        ("2026-11-20T14:00:30Z", "2026-11-20T14:00:30Z"),
        ("2026-11-20T14:00:00+02:00", "2026-11-20T12:00:00Z"),
        ("2024-02-29", "2024-02-29T23:59:59Z"),
        ("2026-11-20 14:00", "2026-11-20T14:00:00Z"),
        ("2026-11-20T14:00Z", "2026-11-20T14:00:00Z"),
        ("2026-11-20T14:00-05:30", "2026-11-20T19:30:00Z"),
        ("2026-11-20T14:00:00+00:00", "2026-11-20T14:00:00Z"),
        ("2026-11-20T23:59:59Z", "2026-11-20T23:59:59Z"),
        ("2026-12-31T23:30:00-01:00", "2027-01-01T00:30:00Z"),
        (" 20261231 ", "2026-12-31T23:59:59Z"),
    ])
    func restorePoints(text: String, expected: String) throws {
        #expect(try RestorePoint.parse(text) == ISO8601DateFormatter().date(from: expected))
    }

    @Test(arguments: [
        "2026-13-01", "2025-02-29", "2026-11-20T25:00", "yesterday", "2026/11/20", "2026-11-20T14:00X", "2026-02-30",
        "20260230", "20261301", "2026-11-20T24:00", "2026-11-20T14:60", "2026-11-20T14:00:60Z",
        "2026-11-20T14:00:30.5Z", "2026-11-20T14:00:00+0200", "2026-11-20T14:00:00+02", "2026-11-20T14:00:00z",
        "2026-11-20t14:00", "2026-11-2", "2026-1-20", "10000-01-01", "2026-11-20T14", "2026-11-20T",
        "2026-11-20T14:00:00+02:00 junk", "202611201", "٢٠٢٦١١٢٠", "", "2026-11-20T14:00+99:99",
        "2026-11-20T14:00++1:00",
    ])
    func invalidRestorePoints(text: String) {
        #expect(throws: ConfigurationError.self) { _ = try RestorePoint.parse(text) }
    }

    @Test func anInvalidRestorePointNamesTheFormsAccepted() {
        let error = #expect(throws: ConfigurationError.self) { _ = try RestorePoint.parse(" 2026-02-30 ") }
        #expect(
            error?.message
                == "\" 2026-02-30 \" is not a date: use 2026-11-20, 2026-11-20T14:00, 2026-11-20T14:00:00Z or 20261120")
    }
}

@Suite struct ScheduleNextRunTests {
    static func date(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }

    @Test(arguments: [
        ("*/5 * * * *", "2027-01-04T10:02:30Z", "2027-01-04T10:05:00Z"),
        ("*/5 * * * *", "2027-01-04T10:05:00Z", "2027-01-04T10:10:00Z"),
        ("0 */6 * * *", "2027-01-04T19:00:00Z", "2027-01-05T00:00:00Z"),
        ("30 2 * * mon", "2027-01-04T02:30:00Z", "2027-01-11T02:30:00Z"),
        ("0 0 1 * *", "2027-01-15T00:00:00Z", "2027-02-01T00:00:00Z"),
        ("0 0 29 2 *", "2027-03-01T00:00:00Z", "2028-02-29T00:00:00Z"),
        ("0 12 13 * 5", "2027-01-01T13:00:00Z", "2027-01-08T12:00:00Z"),
        ("59 23 31 12 *", "2027-01-01T00:00:00Z", "2027-12-31T23:59:00Z"),
    ])
    func cronNextRuns(expression: String, after: String, expected: String) throws {
        let cron = try CronExpression(parsing: expression)
        #expect(cron.next(after: Self.date(after)) == Self.date(expected))
    }

    @Test func impossibleDatesNeverRun() throws {
        #expect(try CronExpression(parsing: "0 0 30 2 *").next(after: Date()) == nil)
    }

    @Test func dailyAndDynomiteManagerSchedules() throws {
        let daily = try BackupSchedule(parsing: "daily 02:15")
        #expect(daily.next(after: Self.date("2027-01-04T02:14:59Z")) == Self.date("2027-01-04T02:15:00Z"))
        #expect(daily.next(after: Self.date("2027-01-04T02:15:00Z")) == Self.date("2027-01-05T02:15:00Z"))
        #expect(daily.period == 86_400)
        let weekly = try DynokeeperConfiguration.parse(
            yaml: "dynomitemanager.dyno.backup.schedule: week\ndynomitemanager.dyno.backup.hour: 4\n", path: "x"
        ).backup.schedule
        // Dynomite-manager runs weekly backups on Mondays at HH:01.
        #expect(weekly.next(after: Self.date("2027-01-01T00:00:00Z")) == Self.date("2027-01-04T04:01:00Z"))
        #expect(weekly.period == 7 * 86_400)
        #expect(try BackupSchedule(parsing: "0 */6 * * *").period == 6 * 3600)
    }
}

@Suite struct ServerSettingsTests {
    @Test func listenAndTokens() throws {
        let configuration = try DynokeeperConfiguration.parse(
            yaml: "server:\n  listen: 0.0.0.0:9090\n  token: a-long-enough-secret-token\n", path: "x")
        #expect(configuration.server.host == "0.0.0.0")
        #expect(configuration.server.port == 9090)
        #expect(!configuration.server.isLoopback)
        #expect(configuration.server.token == "a-long-enough-secret-token")
        #expect(configuration.effective.first { $0.key == "server.token" }?.value == "<redacted>")
        let defaults = try DynokeeperConfiguration.parse(yaml: "", path: "x").server
        #expect(defaults.host == "127.0.0.1" && defaults.port == 8080 && defaults.isLoopback && defaults.token == nil)
    }

    @Test func tokenFiles() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("token-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "from-a-file-0123456789\n".write(toFile: path, atomically: false, encoding: .utf8)
        let configuration = try DynokeeperConfiguration.parse(yaml: "server:\n  token_file: \(path)\n", path: "x")
        #expect(configuration.server.token == "from-a-file-0123456789")
        #expect(configuration.server.tokenSource == "server.token_file \(path)")
    }

    @Test(arguments: [
        ("server:\n  listen: nohost\n", "it must be host:port"),
        ("server:\n  listen: 127.0.0.1:70000\n", "it must be host:port"),
        ("server:\n  token: short\n", "at least 16 characters"),
        ("server:\n  token: a-long-enough-secret-token\n  token_file: /x\n", "both set"),
        ("server:\n  token_file: /nonexistent/token\n", "cannot read /nonexistent/token"),
    ])
    func badServerSettings(yaml: String, expected: String) {
        do {
            _ = try DynokeeperConfiguration.parse(yaml: yaml, path: "x")
            Issue.record("no error")
        } catch {
            #expect("\(error)".contains(expected), "\(error)")
        }
    }
}

@Suite struct RingSettingsTests {
    @Test func peersAsAListOrFromTheEnvironment() throws {
        let listed = try DynokeeperConfiguration.parse(
            yaml:
                "ring:\n  allow_plaintext: true\n  peers:\n  - http://10.0.0.1:8080/\n  - https://node2:8443\nbackup:\n  scope: ring\n",
            path: "x")
        #expect(listed.ring.peers == ["http://10.0.0.1:8080", "https://node2:8443"])
        #expect(listed.backup.scope == .ring)
        let environment = try DynokeeperConfiguration.parse(
            yaml: "", path: "x",
            environment: [
                "DYNOKEEPER_RING_PEERS": "http://a:1, http://b:2", "DYNOKEEPER_RING_PEER_PORT": "8080",
                "DYNOKEEPER_RING_ALLOW_PLAINTEXT": "true",
            ])
        #expect(environment.ring.peers == ["http://a:1", "http://b:2"])
        #expect(environment.ring.peerPort == 8080)
        #expect(try DynokeeperConfiguration.parse(yaml: "", path: "x").backup.scope == .node)
        // Credentials in a peer URL are refused, and never shown.
        let credentials =
            (try? DynokeeperConfiguration.parse(
                yaml: "ring:\n  peers: [https://user:s3cretpw@10.0.0.1:8443]\n", path: "x")).map { _ in "no error" }
        #expect(credentials == nil)
        do {
            _ = try DynokeeperConfiguration.parse(
                yaml: "ring:\n  peers: [https://user:s3cretpw@10.0.0.1:8443]\n", path: "x")
        } catch {
            #expect("\(error)".contains("must not hold credentials") && !"\(error)".contains("s3cretpw"), "\(error)")
        }
        // Without allow_plaintext, http:// to another machine is refused (the token would cross in clear).
        #expect(throws: ConfigurationError.self) {
            try DynokeeperConfiguration.parse(yaml: "ring:\n  peers: [http://10.0.0.1:8080]\n", path: "x")
        }
        #expect(
            try DynokeeperConfiguration.parse(yaml: "ring:\n  peers: [http://127.0.0.1:8080]\n", path: "x").ring.peers
                == ["http://127.0.0.1:8080"])
    }

    @Test func badPeersAreRefused() {
        for (yaml, expected) in [
            ("ring:\n  peers: [10.0.0.1:8080]\n", "a base URL such as"),
            ("ring:\n  peers:\n  - {a: 1}\n", "every item must be a single value"),
            ("backup:\n  scope: galaxy\n", "expected node or ring"),
        ] {
            do {
                _ = try DynokeeperConfiguration.parse(yaml: yaml, path: "x")
                Issue.record("no error for \(yaml)")
            } catch {
                #expect("\(error)".contains(expected), "\(error)")
            }
        }
    }

    /// Secrets never reach messages: a YAML error names the line and column only (Yams quotes the lines around
    /// it), and a refused token is not echoed.
    @Test func errorsNeverShowSecrets() {
        let secret = "s3cr3t-bearer-token-0123456789"
        let broken = ConfigurationTests.error(
            """
            server:
              token: \(secret)
              listen: [127.0.0.1:8080
            """)
        #expect(broken.contains("test.yml is not valid YAML: line "), "\(broken)")
        #expect(broken.contains("column"))
        #expect(!broken.contains(secret), "\(broken)")
        let duplicated = ConfigurationTests.error("server:\n  token: \(secret)\n  token: \(secret)\n")
        #expect(!duplicated.contains(secret), "\(duplicated)")
        let short = ConfigurationTests.error("server:\n  token: tiny-secret\n")
        #expect(short.contains("server.token (test.yml line 2)"), "\(short)")
        #expect(short.contains("not shown"))
        #expect(!short.contains("tiny-secret"), "\(short)")
        let fromEnvironment = ConfigurationTests.error("", environment: ["DYNOKEEPER_SERVER_TOKEN": "tiny-secret"])
        #expect(!fromEnvironment.contains("tiny-secret"), "\(fromEnvironment)")
        // A dynomite.yml that is not YAML is named by line and column, never quoted (it may hold a password).
        let dynomite = #expect(throws: ConfigurationError.self) {
            _ = try DynomiteYAML.parse(
                "dyn_o_mite:\n  datacenter: dc\n  requirepass: \(secret): x\n  tokens: 1\n", path: "dynomite.yml")
        }
        #expect("\(dynomite!)".contains("line 3"), "\(dynomite!)")
        #expect(!"\(dynomite!)".contains(secret), "\(dynomite!)")
    }

    @Test func localStoreModes() throws {
        let defaults = try ConfigurationTests.parse("")
        #expect(defaults.storage.localFileMode == 0o600 && defaults.storage.localFolderMode == 0o700)
        let shared = try ConfigurationTests.parse(
            "storage:\n  local_file_mode: \"0640\"\n  local_folder_mode: \"0750\"\n")
        #expect(shared.storage.localFileMode == 0o640 && shared.storage.localFolderMode == 0o750)
        #expect(ConfigurationTests.error("storage:\n  local_file_mode: \"0200\"\n").contains("storage.local_file_mode"))
        #expect(ConfigurationTests.error("storage:\n  local_folder_mode: \"0600\"\n").contains("at least 0700"))
        #expect(ConfigurationTests.error("storage:\n  local_file_mode: \"rw\"\n").contains("octal"))
    }

    @Test func aCronThatNeverFiresIsRefused() {
        #expect(ConfigurationTests.error("backup:\n  schedule: \"0 0 31 2 *\"\n").contains("never fires"))
        #expect(ConfigurationTests.error("backup:\n  schedule: \"0 0 30 2 *\"\n").contains("never fires"))
        // 29 February comes every four years: that one fires.
        #expect(ConfigurationTests.error("backup:\n  schedule: \"0 0 29 2 *\"\n") == "no error")
    }

    @Test func stateFolderAndCommandEnvironment() throws {
        let configuration = try ConfigurationTests.parse(
            "node:\n  state_dir: /var/lib/dynokeeper\n  command_environment: [SYSTEMD_LOG_LEVEL, LC_TIME]\n")
        #expect(configuration.node.stateDir == "/var/lib/dynokeeper")
        #expect(configuration.node.commandEnvironment == ["SYSTEMD_LOG_LEVEL", "LC_TIME"])
        #expect(ConfigurationTests.error("node:\n  state_dir: relative/folder\n").contains("use an absolute path"))
        #expect(
            ConfigurationTests.error("node:\n  command_environment: [\"NOT A NAME\"]\n").contains(
                "an environment variable name"))
    }
}
