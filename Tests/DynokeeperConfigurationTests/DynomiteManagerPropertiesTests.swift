import DynokeeperConfiguration
import Foundation
import Testing

/// Dynomite-manager's `.properties` files, read as they are (`config.dynomite_manager_properties`) and turned into
/// a dynokeeper.yml (`config import-dm`), one file per generation of its names.
@Suite struct DynomiteManagerPropertiesTests {
    /// v2 (archaius2), as a 2019 deployment wrote it.
    static let v2 = """
        # Dynomite-manager v2
        dbsidecar.aws.dyno.backup.bucket.name=us-east-1.prod-backups
        dbsidecar.aws.dyno.backup.s3.base_dir=dynomite
        dbsidecar.common.dyno.backup.snapshot.enabled=true
        dbsidecar.common.dyno.backup.hour=3
        dbsidecar.common.dyno.backup.schedule=day
        dbsidecar.common.dyno.backup.restore.enabled=true
        dbsidecar.common.dyno.backup.restore.date=20261120
        florida.dyno.persistence.type=aof
        florida.dyno.persistence.directory=/mnt/data/nfredis
        dbsidecar.common.dyno.port=8102
        """

    /// Late 2016 to 2017: `dm.`, with the other separators the format allows.
    static let dm2017 = """
        ! dm generation
        dm.dyno.backup.bucket.name = dm-bucket
        dm.dyno.backup.s3.base_dir : nightly
        dm.dyno.backup.snapshot.enabled true
        dm.dyno.backup.hour=5
        """

    /// 2016: `florida.`, with a continued line and escapes.
    static let florida2016 = """
        florida.dyno.backup.bucket.name=florida-\\
            bucket
        florida.dyno.backup.snapshot.enabled=true
        florida.dyno.backup.schedule=week
        florida.dyno.startscript=/apps/dynomite/bin/launch_dynomite.sh
        florida.dyno.stopscript=/apps/dynomite/bin/kill\\u005fdynomite.sh
        florida.dyno.seed.provider=florida_provider
        """

    static func folder() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("dm-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func load(
        _ properties: String, yaml: String = "", environment: [String: String] = [:]
    ) throws
        -> DynokeeperConfiguration
    {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try properties.write(toFile: folder + "/dynomitemanager.properties", atomically: true, encoding: .utf8)
        return try DynokeeperConfiguration.parse(
            yaml: "config:\n  dynomite_manager_properties: dynomitemanager.properties\n" + yaml,
            path: folder + "/dynokeeper.yml", environment: environment)
    }

    @Test func eachGenerationsFileIsReadAsItIs() throws {
        let v2 = try Self.load(Self.v2)
        #expect(v2.storage.url == .s3(bucket: "us-east-1.prod-backups", prefix: "dynomite"))
        #expect(v2.backup.enabled && v2.backup.type == .aof)
        #expect(v2.backup.schedule == .daily(hour: 3, minute: 1))
        #expect(v2.restore.enabled && v2.restore.onStart, "restore.enabled meant restore at start-up")
        #expect(v2.restore.date != nil)
        #expect(v2.redis.dataDir == "/mnt/data/nfredis")
        #expect(v2.ignoredProperties == ["dbsidecar.common.dyno.port"])
        // config check names each property as it was written.
        #expect(v2.effective.contains { $0.key == "dbsidecar.aws.dyno.backup.bucket.name" }, "\(v2.effective)")
        #expect(!v2.effective.contains { $0.key.hasPrefix("dynomitemanager.") }, "\(v2.effective)")

        let dm = try Self.load(Self.dm2017)
        #expect(dm.storage.url == .s3(bucket: "dm-bucket", prefix: "nightly"))
        #expect(dm.backup.type == .aof, "Dynomite-manager's default persistence")
        // A key given twice takes its last value, as java.util.Properties reads it; the YAML may say the same.
        let twice = try Self.load(
            "dm.dyno.backup.hour=5\ndm.dyno.backup.hour=6\n", yaml: "dm.dyno.backup.hour: 6\n")
        #expect(twice.backup.schedule == .daily(hour: 6, minute: 1))
        #expect(dm.backup.enabled && dm.backup.schedule == .daily(hour: 5, minute: 1))

        let florida = try Self.load(Self.florida2016)
        #expect(florida.storage.url == .s3(bucket: "florida-bucket", prefix: "backup"))
        #expect(florida.backup.schedule.description == "1 12 * * 1")
        #expect(florida.dynomite.stop == "/apps/dynomite/bin/kill_dynomite.sh")
        #expect(florida.ignoredProperties == ["florida.dyno.seed.provider"])
    }

    @Test func theFileMustAgreeWithTheYAMLAndTheEnvironmentWins() throws {
        let disagree = #expect(throws: ConfigurationError.self) {
            _ = try Self.load(Self.dm2017, yaml: "backup:\n  enabled: false\n")
        }
        #expect("\(disagree!)".contains("disagree"), "\(disagree!)")
        #expect(throws: Never.self) { _ = try Self.load(Self.dm2017, yaml: "backup:\n  enabled: true\n") }
        let overridden = try Self.load(Self.dm2017, environment: ["DM_DYNO_BACKUP_HOUR": "7"])
        #expect(overridden.backup.schedule == .daily(hour: 7, minute: 1))
        // A variable under another generation's name does not override the file's: it must agree with it.
        let otherName = #expect(throws: ConfigurationError.self) {
            _ = try Self.load(Self.dm2017, environment: ["DBSIDECAR_AWS_DYNO_BACKUP_BUCKET_NAME": "other"])
        }
        #expect(
            "\(otherName!)".contains("dm.dyno.backup.bucket.name (") && "\(otherName!)".contains("disagree"),
            "\(otherName!)")
        #expect(throws: Never.self) {
            _ = try Self.load(Self.dm2017, environment: ["FLORIDA_DYNO_BACKUP_HOUR": "5"])
        }
        // A file that names no bucket means Dynomite-manager's default one, as it did.
        let hourOnly = try Self.load("dbsidecar.common.dyno.backup.hour=3\n")
        #expect(hourOnly.storage.url == .s3(bucket: "us-east-1.dynomite-backup-test", prefix: "backup"))
        #expect(
            try Self.load("dm.dyno.backup.hour=3\n").storage.url == .s3(bucket: "dynomite-backup", prefix: "backup"))
        let unknown = #expect(throws: ConfigurationError.self) {
            _ = try Self.load("dm.dyno.backup.snapshots.enabled=true\n")
        }
        #expect("\(unknown!)".contains("unknown configuration key dm.dyno.backup.snapshots.enabled"), "\(unknown!)")
        #expect("\(unknown!)".contains("line 1"))
    }

    /// dynokeeper's own variable replaces a value the file gives under dynokeeper's name, but one given under a
    /// Dynomite-manager name is another spelling of the setting: they must agree.
    @Test func aDynokeeperVariableMustAgreeWithADynomiteManagerSpellingInTheFile() throws {
        let pairs = [
            ("florida.dyno.persistence.type: aof", "DYNOKEEPER_BACKUP_TYPE", "rdb"),
            ("florida.dyno.persistence.directory: /tmp/a", "DYNOKEEPER_REDIS_DATA_DIR", "/tmp/b"),
            ("florida.dyno.startscript: /bin/true", "DYNOKEEPER_DYNOMITE_START", "/bin/false"),
        ]
        for (yaml, variable, value) in pairs {
            let error = #expect(throws: ConfigurationError.self) {
                _ = try DynokeeperConfiguration.parse(
                    yaml: yaml + "\n", path: "dynokeeper.yml", environment: [variable: value])
            }
            let text = error.map { "\($0)" } ?? ""
            #expect(
                text.contains(String(yaml.prefix { $0 != ":" })) && text.contains(variable)
                    && text.contains("disagree"), "\(text)")
        }
        let agreeing = try DynokeeperConfiguration.parse(
            yaml: "florida.dyno.persistence.type: aof\n", path: "dynokeeper.yml",
            environment: ["DYNOKEEPER_BACKUP_TYPE": "aof"])
        #expect(agreeing.backup.type == .aof)
        // Under dynokeeper's own name the variable replaces the file's value, as for every setting.
        let replaced = try DynokeeperConfiguration.parse(
            yaml: "backup:\n  type: aof\n", path: "dynokeeper.yml", environment: ["DYNOKEEPER_BACKUP_TYPE": "rdb"])
        #expect(replaced.backup.type == .rdb)
    }

    /// Dynomite-manager's backup switch without an hour means its default hour, at minute 1, as the import says; a
    /// schedule written another way that runs at the same moments agrees with its hour.
    @Test func scheduleDefaultsAndEquivalentSpellings() throws {
        let switchOnly = try Self.load("florida.dyno.backup.snapshot.enabled=true\n")
        #expect(switchOnly.backup.schedule == .daily(hour: 12, minute: 1))
        let same = try DynokeeperConfiguration.parse(
            yaml: "", path: "dynokeeper.yml",
            environment: ["DYNOKEEPER_BACKUP_SCHEDULE": "1 3 * * *", "DM_DYNO_BACKUP_HOUR": "3"])
        #expect(same.backup.schedule.description == "1 3 * * *")
        #expect(throws: ConfigurationError.self) {
            _ = try DynokeeperConfiguration.parse(
                yaml: "", path: "dynokeeper.yml",
                environment: ["DYNOKEEPER_BACKUP_SCHEDULE": "2 3 * * *", "DM_DYNO_BACKUP_HOUR": "3"])
        }
    }

    /// florida.dyno.persistence.enabled is a real property (Dynomite-manager wrote Redis's persistence settings
    /// from it): accepted in files, YAML and the environment, and listed as not used.
    @Test func dynomiteManagerPropertiesWithoutMeaningHereAreAcceptedAndListed() throws {
        let fromFile = try Self.load("florida.dyno.persistence.enabled=true\nflorida.dyno.persistence.type=rdb\n")
        #expect(fromFile.ignoredProperties == ["florida.dyno.persistence.enabled"])
        #expect(fromFile.backup.type == .rdb)
        let fromYAML = try DynokeeperConfiguration.parse(
            yaml: "florida:\n  dyno:\n    persistence:\n      enabled: true\n", path: "dynokeeper.yml")
        #expect(fromYAML.ignoredProperties == ["florida.dyno.persistence.enabled"])
        let fromEnvironment = try DynokeeperConfiguration.parse(
            yaml: "", path: "dynokeeper.yml", environment: ["FLORIDA_DYNO_PERSISTENCE_ENABLED": "true"])
        #expect(fromEnvironment.ignoredProperties == ["florida.dyno.persistence.enabled"])
        // Its neighbours that do not exist are still mistakes.
        #expect(throws: ConfigurationError.self) {
            _ = try DynokeeperConfiguration.parse(
                yaml: "", path: "dynokeeper.yml", environment: ["FLORIDA_DYNO_PERSISTENCE_ENABLE": "true"])
        }
    }

    @Test func importDMPrintsAnEquivalentConfigurationWithTheChangesOfMeaning() throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let file = folder + "/dynomitemanager.properties"
        try Self.v2.write(toFile: file, atomically: true, encoding: .utf8)
        let yaml = try DynomiteManagerImport.yaml(file: file)
        #expect(yaml.contains("url: \"s3://us-east-1.prod-backups/dynomite\""), "\(yaml)")
        #expect(yaml.contains("on_start: true  # from dbsidecar.common.dyno.backup.restore.enabled"), "\(yaml)")
        #expect(yaml.contains("Dynomite-manager restored at every start, dynokeeper once"))
        #expect(yaml.contains("schedule is UTC"))
        #expect(yaml.contains("type: aof  # from florida.dyno.persistence.type"))
        #expect(yaml.contains("Not used by dynokeeper (Dynomite-manager's other settings): dbsidecar.common.dyno.port"))
        // What it prints is a dynokeeper configuration that means the same.
        let imported = try DynokeeperConfiguration.parse(yaml: yaml, path: "imported.yml")
        let direct = try Self.load(Self.v2)
        #expect(imported.storage.url == direct.storage.url)
        #expect(imported.backup.schedule == direct.backup.schedule && imported.backup.type == direct.backup.type)
        #expect(imported.restore.onStart && imported.restore.date == direct.restore.date)
        #expect(imported.redis.dataDir == direct.redis.dataDir)
        // Dynomite-manager's default AOF persistence is written out when the file does not set it.
        try Self.dm2017.write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try DynomiteManagerImport.yaml(file: file).contains("type: aof  # Dynomite-manager's default"))
        // A base_dir with slashes around it keeps them: its keys are `/nightly//dc/…`, which storage.url cannot say.
        try (Self.dm2017 + "\ndm.dyno.backup.s3.base_dir=/nightly/\n").write(
            toFile: file, atomically: true, encoding: .utf8)
        let slashed = try DynomiteManagerImport.yaml(file: file)
        #expect(slashed.contains("dm.dyno.backup.s3.base_dir: \"/nightly/\""), "\(slashed)")
        #expect(slashed.contains("dm.dyno.backup.bucket.name: \"dm-bucket\"  # from dm.dyno.backup.bucket.name"))
        #expect(!slashed.contains("url:"), "\(slashed)")
        let reread = try DynokeeperConfiguration.parse(yaml: slashed, path: "imported.yml")
        #expect(reread.storage.dynomiteManagerBaseDir == "/nightly/")
        #expect(reread.storage == (try Self.load(Self.dm2017 + "\ndm.dyno.backup.s3.base_dir=/nightly/\n")).storage)
        // A file that names no bucket nor base_dir meant Dynomite-manager's default store: so does the import.
        let florida = "florida.dyno.backup.snapshot.enabled=true\nflorida.dyno.backup.restore.date=20261120\n"
        try florida.write(toFile: file, atomically: true, encoding: .utf8)
        let defaults = try DynomiteManagerImport.yaml(file: file)
        #expect(defaults.contains("url: \"s3://dynomite-backup/backup\"  # Dynomite-manager's default"), "\(defaults)")
        #expect(defaults.contains("timezone: UTC  # Dynomite-manager named each day's object"), "\(defaults)")
        let rereadDefaults = try DynokeeperConfiguration.parse(yaml: defaults, path: "imported.yml")
        #expect(rereadDefaults.storage.url == (try Self.load(florida)).storage.url)
    }

    /// restore.timezone: a day (and a time without an offset) is read where Dynomite-manager's JVM ran, so the
    /// objects it named by its local midnight are chosen for the right day.
    @Test func daysAreReadInTheConfiguredTimeZone() throws {
        let tokyo = try #require(TimeZone(identifier: "Asia/Tokyo"))
        let iso = ISO8601DateFormatter()
        #expect(try RestorePoint.parse("20261120", timeZone: tokyo) == iso.date(from: "2026-11-20T14:59:59Z"))
        #expect(try RestorePoint.parse("2026-11-20", timeZone: tokyo) == iso.date(from: "2026-11-20T14:59:59Z"))
        #expect(try RestorePoint.parse("2026-11-20T09:00", timeZone: tokyo) == iso.date(from: "2026-11-20T00:00:00Z"))
        // Messages call UTC and offsets from it so, never GMT.
        #expect(TimeZone(identifier: "UTC")?.name == "UTC")
        #expect(TimeZone(identifier: "UTC+2")?.name == "UTC+02:00")
        #expect(TimeZone(secondsFromGMT: -(5 * 3600 + 1800))?.name == "UTC-05:30")
        #expect(tokyo.name == "Asia/Tokyo")
        // An explicit offset is what it says.
        #expect(
            try RestorePoint.parse("2026-11-20T09:00:00Z", timeZone: tokyo) == iso.date(from: "2026-11-20T09:00:00Z"))
        // A day of a daylight-saving change (Los Angeles goes from -07:00 to -08:00 on 2026-11-01).
        let losAngeles = try #require(TimeZone(identifier: "America/Los_Angeles"))
        #expect(try RestorePoint.parse("2026-11-01", timeZone: losAngeles) == iso.date(from: "2026-11-02T07:59:59Z"))

        let configuration = try DynokeeperConfiguration.parse(
            yaml: "restore:\n  timezone: Asia/Tokyo\n  date: \"20261120\"\n", path: "x")
        #expect(configuration.restore.timeZone == tokyo)
        #expect(configuration.restore.date == iso.date(from: "2026-11-20T14:59:59Z"))
        #expect(throws: ConfigurationError.self) {
            try DynokeeperConfiguration.parse(yaml: "restore:\n  timezone: Mars/Olympus\n", path: "x")
        }
    }
}
