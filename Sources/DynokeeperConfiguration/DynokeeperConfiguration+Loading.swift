import Foundation

extension DynokeeperConfiguration {
    /// The file read when no `--config` is given.
    package static let defaultPath = "dynokeeper.yml"

    /// Loads the configuration.
    /// - Parameters:
    ///   - path: The file; `nil` for `DYNOKEEPER_CONFIG` or `./dynokeeper.yml`, which may then be absent
    ///     (every key has a default).
    ///   - environment: The variables that override the file.
    /// - Throws: ``ConfigurationError`` naming the key, where it was set and what is expected.
    package static func load(
        path: String?, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> Self {
        let explicit = path ?? environment["DYNOKEEPER_CONFIG"]
        let file = explicit ?? defaultPath
        guard FileManager.default.fileExists(atPath: file) else {
            if explicit != nil { throw ConfigurationError("configuration file \(file) does not exist") }
            return try parse(yaml: "", path: file, environment: environment)
        }
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ConfigurationError("cannot read configuration file \(file)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationError("configuration file \(file) is not UTF-8 text")
        }
        return try parse(yaml: text, path: file, environment: environment)
    }

    /// Parses configuration text.
    /// - Parameters:
    ///   - yaml: The file's content.
    ///   - path: The file's name, for messages.
    ///   - environment: The variables that override the file.
    package static func parse(yaml: String, path: String, environment: [String: String] = [:]) throws -> Self {
        var raw = try RawValues.parse(yaml: yaml, path: path)
        try raw.applyEnvironment(environment)
        var ignored: [String] = []
        if let properties = raw["config.dynomite_manager_properties"]?.text {
            let folder = (path as NSString).deletingLastPathComponent
            let file = properties.hasPrefix("/") || folder.isEmpty ? properties : folder + "/" + properties
            ignored = try raw.mergeDynomiteManagerProperties(file)
        }
        var reader = TypedReader(raw: raw)
        var configuration = try Self(reading: &reader, environment: environment)
        configuration.ignoredProperties = raw.unused + ignored
        return configuration
    }

    /// Reads every section, in `config check`'s order; each section's keys are read in its own file
    /// (`DynokeeperConfiguration+<Section>.swift`).
    init(reading reader: inout TypedReader, environment: [String: String]) throws {
        _ = try reader.string("config.dynomite_manager_properties")
        let cluster = try reader.string("cluster", default: "dynomite", check: TypedReader.checkName)!
        let node = try Node(reading: &reader)
        let redis = try Redis(reading: &reader)
        let storage = try Storage(reading: &reader, environment: environment)
        let backup = try Backup(reading: &reader)
        let restore = try Restore(reading: &reader)
        let dynomite = try Dynomite(reading: &reader)
        let log = try Log(reading: &reader)
        let ring = try Ring(reading: &reader)
        let server = try Server(reading: &reader)
        self.init(
            cluster: cluster, node: node, redis: redis, storage: storage, backup: backup, restore: restore,
            dynomite: dynomite, ring: ring, server: server, log: log)
        retention = try Retention(reading: &reader)
        verify.schedule = try reader.parsed("verify.schedule", BackupSchedule.init(parsing:))?.value
        verify.load = try reader.bool("verify.load")?.value ?? false
        verify.redisServer = try reader.string("verify.redis_server", default: "redis-server")!
        encryption = try Encryption(reading: &reader)
        pitr = try PointInTime(reading: &reader)
        if backup.format == .dynomiteManager && encryption.keyFile != nil {
            throw ConfigurationError(
                "backup.format dynomite-manager writes the RDB in clear (Dynomite-manager's layout), which encryption.key_file is there to prevent: keep one"
            )
        }
        // Dynomite-manager's names show only when used; their effect shows on the native keys.
        effective = reader.effective.filter {
            !(($0.key.hasPrefix("dynomitemanager.") || $0.key.hasPrefix("config.")) && $0.origin == .defaultValue)
        }
    }
}
