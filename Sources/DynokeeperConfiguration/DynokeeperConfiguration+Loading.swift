public import Foundation

extension DynokeeperConfiguration {
    /// The file read when no `--config` is given.
    public static let defaultPath = "dynokeeper.yml"

    /// Loads the configuration.
    /// - Parameters:
    ///   - path: The file; `nil` for `DYNOKEEPER_CONFIG` or `./dynokeeper.yml`, which may then be absent
    ///     (every key has a default).
    ///   - environment: The variables that override the file.
    /// - Throws: ``ConfigurationError`` naming the key, where it was set and what is expected.
    public static func load(path: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Self {
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
    public static func parse(yaml: String, path: String, environment: [String: String] = [:]) throws -> Self {
        var raw = try RawValues.parse(yaml: yaml, path: path)
        try raw.applyEnvironment(environment)
        var reader = TypedReader(raw: raw)
        return try reader.build(environment: environment)
    }
}

/// Turns raw values into typed settings, recording each effective value and its origin.
struct TypedReader {
    let raw: RawValues
    var effective: [(key: String, value: String, origin: ValueOrigin)] = []

    init(raw: RawValues) { self.raw = raw }

    private func fail(_ path: String, _ value: RawValue, _ detail: String? = nil) -> ConfigurationError {
        let expected = ConfigurationKeys.key(path)?.expected ?? "a valid value"
        let shown: String
        switch value.shape {
        case .list: shown = "a list"
        case .mapping: shown = "a mapping"
        case _ where ConfigurationKeys.key(path)?.secret == true: shown = "a value that is not shown (it is a secret)"
        default: shown = "\"\(value.text)\""
        }
        return ConfigurationError("\(path) (\(value.origin)): expected \(expected), got \(shown)\(detail.map { ": \($0)" } ?? "")")
    }

    private mutating func record(_ path: String, _ shown: String?, _ origin: ValueOrigin) {
        let secret = ConfigurationKeys.key(path)?.secret ?? false
        effective.append((path, shown.map { secret ? "<redacted>" : $0 } ?? "(not set)", origin))
    }

    private func scalar(_ path: String) throws -> RawValue? {
        guard let value = raw[path] else { return nil }
        guard value.shape == .scalar else { throw fail(path, value) }
        return value
    }

    mutating func string(_ path: String, default fallback: String? = nil, check: ((String) -> String?)? = nil) throws -> String? {
        guard let value = try scalar(path) else {
            record(path, fallback, .defaultValue)
            return fallback
        }
        if let problem = check?(value.text) { throw fail(path, value, problem) }
        record(path, value.text, value.origin)
        return value.text
    }

    mutating func int(_ path: String, default fallback: Int? = nil, range: ClosedRange<Int>) throws -> Int? {
        guard let value = try scalar(path) else {
            record(path, fallback.map(String.init), .defaultValue)
            return fallback
        }
        guard let number = Int(value.text.trimmingCharacters(in: .whitespaces)), range.contains(number) else {
            throw fail(path, value)
        }
        record(path, String(number), value.origin)
        return number
    }

    /// A list of strings: a YAML list, or (from the environment) a comma-separated value.
    mutating func strings(_ path: String, check: ((String) -> String?)? = nil) throws -> [String] {
        guard let value = raw[path] else {
            record(path, nil, .defaultValue)
            return []
        }
        let items: [String]
        switch value.shape {
        case .list:
            guard let listed = value.items else { throw fail(path, value, "every item must be a single value") }
            items = listed
        case .scalar:
            items = value.text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        default:
            throw fail(path, value)
        }
        for item in items {
            if let problem = check?(item) { throw fail(path, value, "\(item): \(problem)") }
        }
        record(path, items.joined(separator: ", "), value.origin)
        return items
    }

    mutating func bool(_ path: String) throws -> (value: Bool, origin: ValueOrigin)? {
        guard let value = try scalar(path) else { return nil }
        switch value.text.lowercased() {
        case "true", "yes", "on": return (true, value.origin)
        case "false", "no", "off": return (false, value.origin)
        default: throw fail(path, value)
        }
    }

    mutating func parsed<T>(_ path: String, _ parse: (String) throws -> T) throws -> (value: T, origin: ValueOrigin)? {
        guard let value = try scalar(path) else { return nil }
        do {
            return (try parse(value.text), value.origin)
        } catch let error as ConfigurationError {
            throw fail(path, value, error.message)
        }
    }

    static func checkName(_ text: String) -> String? {
        let allowed = text.unicodeScalars.allSatisfy {
            CharacterSet.alphanumerics.contains($0) && $0.isASCII || $0 == "." || $0 == "_" || $0 == "-"
        }
        guard !text.isEmpty, allowed, text != ".", text != ".." else { return "it becomes a folder name in the store" }
        return nil
    }

    static func checkTokens(_ text: String) -> String? {
        let tokens = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard !tokens.isEmpty, tokens.allSatisfy({ UInt32($0) != nil }) else { return "tokens are unsigned 32-bit integers" }
        return nil
    }

    mutating func build(environment: [String: String]) throws -> DynokeeperConfiguration {
        let cluster = try string("cluster", default: "dynomite", check: Self.checkName)!
        let node = DynokeeperConfiguration.Node(
            dynomiteYAML: try string("node.dynomite_yaml"),
            datacenter: try string("node.datacenter", check: Self.checkName),
            rack: try string("node.rack", check: Self.checkName),
            tokens: try string("node.tokens", check: Self.checkTokens),
            stateDir: try string("node.state_dir", check: { $0.hasPrefix("/") ? nil : "use an absolute path" }),
            commandEnvironment: try strings("node.command_environment", check: { name in
                guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
                    return "an environment variable name"
                }
                return nil
            }))
        let redis = DynokeeperConfiguration.Redis(
            host: try string("redis.host", check: { $0.isEmpty ? "empty" : nil }),
            port: try int("redis.port", range: 1...65535),
            user: try string("redis.user"),
            passwordFile: try string("redis.password_file"),
            conf: try string("redis.conf"),
            dataDir: try string("redis.data_dir"),
            start: try string("redis.start"),
            stop: try string("redis.stop"))
        let storage = try buildStorage(environment: environment)
        let backup = try buildBackup()
        let restore = try buildRestore()
        let dynomite = DynokeeperConfiguration.Dynomite(
            start: try string("dynomite.start"), stop: try string("dynomite.stop"),
            host: try string("dynomite.host", check: { $0.isEmpty ? "empty" : nil }),
            port: try int("dynomite.port", range: 1...65535))
        let log = DynokeeperConfiguration.Log(
            level: try string("log.level", default: "info", check: {
                ["trace", "debug", "info", "notice", "warning", "error", "critical"].contains($0) ? nil : "unknown level"
            })!,
            format: DynokeeperConfiguration.Log.Format(
                rawValue: try string("log.format", default: "text", check: { ["text", "json"].contains($0) ? nil : "unknown format" })!)!)
        let ring = DynokeeperConfiguration.Ring(
            peers: try strings("ring.peers", check: { url in
                guard url.hasPrefix("http://") || url.hasPrefix("https://"), url.count > 8 else { return "a base URL such as http://10.0.0.2:8080" }
                return nil
            }).map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 },
            peerPort: try int("ring.peer_port", range: 1...65535))
        let server = try buildServer()
        var configuration = DynokeeperConfiguration(
            cluster: cluster, node: node, redis: redis, storage: storage, backup: backup, restore: restore,
            dynomite: dynomite, ring: ring, server: server, log: log)
        // Dynomite-manager's names show only when used; their effect shows on the native keys.
        configuration.effective = effective.filter { !($0.key.hasPrefix("dynomitemanager.") && $0.origin == .defaultValue) }
        return configuration
    }

    private mutating func buildStorage(environment: [String: String]) throws -> DynokeeperConfiguration.Storage {
        // Dynomite-manager's bucket and base_dir make an s3:// URL, with its defaults for the missing half.
        let bucket = try string(DynomiteManagerKeys.bucket)
        let baseDir = try string(DynomiteManagerKeys.baseDir)
        let url: StorageURL
        if let parsed = try parsed("storage.url", StorageURL.init(parsing:)) {
            if bucket != nil || baseDir != nil {
                throw ConfigurationError(
                    "storage.url (\(parsed.origin)) and Dynomite-manager's \(DynomiteManagerKeys.bucket)/\(DynomiteManagerKeys.baseDir) both say where backups go: keep one"
                )
            }
            url = parsed.value
            record("storage.url", url.description, parsed.origin)
        } else if bucket != nil || baseDir != nil {
            url = .s3(bucket: bucket ?? "dynomite-backup", prefix: baseDir ?? "backup")
            record("storage.url", url.description, .alias(of: [DynomiteManagerKeys.bucket, DynomiteManagerKeys.baseDir]))
        } else {
            url = .defaultLocal
            record("storage.url", url.description, .defaultValue)
        }
        if case .s3(let bucketName, _) = url, let problem = Self.checkBucket(bucketName) {
            throw ConfigurationError("storage bucket \"\(bucketName)\": \(problem)")
        }
        let endpoint = try string("storage.endpoint", check: { text in
            guard let scheme = text.range(of: "://"), ["http", "https"].contains(text[..<scheme.lowerBound].lowercased()),
                !text[scheme.upperBound...].isEmpty
            else { return "it must start with http:// or https:// and name a host" }
            return nil
        })
        let region = try string(
            "storage.region", default: environment["AWS_REGION"] ?? environment["AWS_DEFAULT_REGION"] ?? "us-east-1",
            check: { $0.isEmpty ? "empty" : nil })!
        let pathStyle = try bool("storage.path_style")
        record("storage.path_style", pathStyle.map { String($0.value) } ?? "auto", pathStyle?.origin ?? .defaultValue)
        let partSize = try int("storage.part_size_mb", default: 16, range: 5...5120)!
        let concurrency = try int("storage.concurrency", default: 8, range: 1...64)!
        let maxAttempts = try int("storage.max_attempts", default: 10, range: 1...100)!
        let giveUpAfter = try int("storage.give_up_after_seconds", default: 120, range: 1...86_400)!
        let sse = try string("storage.server_side_encryption", check: {
            DynokeeperConfiguration.Storage.ServerSideEncryption(rawValue: $0) == nil ? "unknown encryption" : nil
        }).flatMap(DynokeeperConfiguration.Storage.ServerSideEncryption.init(rawValue:))
        let kmsKey = try string("storage.kms_key_id")
        if kmsKey != nil && sse != .kms {
            throw ConfigurationError("storage.kms_key_id is set but storage.server_side_encryption is not aws:kms")
        }
        let profile = try string("storage.profile")
        return .init(
            url: url, endpoint: endpoint, region: region, pathStyle: pathStyle?.value, partSizeMB: partSize,
            concurrency: concurrency, maxAttempts: maxAttempts, giveUpAfterSeconds: giveUpAfter, serverSideEncryption: sse,
            kmsKeyID: kmsKey, profile: profile)
    }

    private mutating func buildServer() throws -> DynokeeperConfiguration.Server {
        let listen = try string("server.listen", default: "127.0.0.1:8080", check: { text in
            guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port),
                colon != text.startIndex
            else { return "it must be host:port" }
            return nil
        })!
        let colon = listen.lastIndex(of: ":")!
        var host = String(listen[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let inline = try string("server.token", check: { $0.count < 16 ? "use at least 16 characters" : nil })
        let file = try string("server.token_file")
        if inline != nil && file != nil {
            throw ConfigurationError("server.token and server.token_file are both set: keep one")
        }
        var token = inline
        if let file {
            guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8) else {
                throw ConfigurationError("server.token_file: cannot read \(file)")
            }
            token = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard token!.count >= 16 else { throw ConfigurationError("server.token_file \(file): use a token of at least 16 characters") }
        }
        return .init(
            host: host, port: Int(listen[listen.index(after: colon)...])!, token: token,
            tokenSource: inline != nil ? "server.token" : file.map { "server.token_file \($0)" })
    }

    static func checkBucket(_ bucket: String) -> String? {
        let allowed = bucket.utf8.allSatisfy {
            ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-")
        }
        guard (3...63).contains(bucket.count), allowed, bucket.first != "-", bucket.first != ".", bucket.last != "-",
            bucket.last != "."
        else {
            return "bucket names have 3 to 63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit"
        }
        return nil
    }

    /// A setting that dynokeeper and Dynomite-manager both name: one or the other, or both agreeing.
    private mutating func aliasedBool(_ native: String, _ alias: String) throws -> Bool {
        let mine = try bool(native)
        let theirs = try bool(alias)
        if let mine, let theirs, mine.value != theirs.value {
            throw ConfigurationError("\(native) (\(mine.origin)) and \(alias) (\(theirs.origin)) disagree: keep one")
        }
        let chosen = mine ?? theirs
        record(native, String(chosen?.value ?? false), chosen.map { mine != nil ? $0.origin : .alias(of: [alias]) } ?? .defaultValue)
        return chosen?.value ?? false
    }

    private mutating func buildBackup() throws -> DynokeeperConfiguration.Backup {
        let enabled = try aliasedBool("backup.enabled", DynomiteManagerKeys.snapshotEnabled)
        let hour = try parsed(DynomiteManagerKeys.hour) { text -> Int in
            guard let hour = Int(text), (0...23).contains(hour) else { throw ConfigurationError("not an hour") }
            return hour
        }
        let dmSchedule = try parsed(DynomiteManagerKeys.schedule) { text -> String in
            guard ["day", "week"].contains(text.lowercased()) else { throw ConfigurationError("not day or week") }
            return text
        }
        let schedule: BackupSchedule
        if let native = try parsed("backup.schedule", BackupSchedule.init(parsing:)) {
            if hour != nil || dmSchedule != nil {
                throw ConfigurationError(
                    "backup.schedule (\(native.origin)) and Dynomite-manager's \(DynomiteManagerKeys.hour)/\(DynomiteManagerKeys.schedule) both set the schedule: keep one"
                )
            }
            schedule = native.value
            record("backup.schedule", schedule.description, native.origin)
        } else if hour != nil || dmSchedule != nil {
            schedule = BackupSchedule.dynomiteManager(hour: hour?.value ?? 12, schedule: dmSchedule?.value ?? "day")!
            record("backup.schedule", schedule.description, .alias(of: [DynomiteManagerKeys.hour, DynomiteManagerKeys.schedule]))
        } else {
            schedule = .daily(hour: 12, minute: 0)
            record("backup.schedule", schedule.description, .defaultValue)
        }
        let type = try string("backup.type", default: "rdb", check: {
            DynokeeperConfiguration.Backup.PersistenceType(rawValue: $0) == nil ? "unknown type" : nil
        }).flatMap(DynokeeperConfiguration.Backup.PersistenceType.init(rawValue:))!
        let compression = try string("backup.compression", default: "zstd", check: {
            DynokeeperConfiguration.Backup.Compression(rawValue: $0) == nil ? "unknown compression" : nil
        }).flatMap(DynokeeperConfiguration.Backup.Compression.init(rawValue:))!
        let level = try int("backup.compression_level", default: 1, range: 1...19)!
        let scope = try string("backup.scope", default: "node", check: {
            DynokeeperConfiguration.Backup.Scope(rawValue: $0) == nil ? "unknown scope" : nil
        }).flatMap(DynokeeperConfiguration.Backup.Scope.init(rawValue:))!
        return .init(
            enabled: enabled, schedule: schedule, type: type, compression: compression, compressionLevel: level, scope: scope)
    }

    private mutating func buildRestore() throws -> DynokeeperConfiguration.Restore {
        let enabled = try aliasedBool("restore.enabled", DynomiteManagerKeys.restoreEnabled)
        let native = try parsed("restore.date", RestorePoint.parse)
        let alias = try parsed(DynomiteManagerKeys.restoreDate) { text -> Date in
            guard text.count == 8 else { throw ConfigurationError("Dynomite-manager dates are yyyyMMdd") }
            return try RestorePoint.parse(text)
        }
        if let native, alias != nil {
            throw ConfigurationError(
                "restore.date (\(native.origin)) and \(DynomiteManagerKeys.restoreDate) both set the restore date: keep one")
        }
        let date = native ?? alias
        record(
            "restore.date", date.map { ISO8601DateFormatter().string(from: $0.value) },
            date.map { native != nil ? $0.origin : .alias(of: [DynomiteManagerKeys.restoreDate]) } ?? .defaultValue)
        return .init(
            enabled: enabled, date: date?.value,
            sourceCluster: try string("restore.source_cluster", check: Self.checkName),
            sourceDatacenter: try string("restore.source_datacenter", check: Self.checkName),
            sourceRack: try string("restore.source_rack", check: Self.checkName))
    }
}
