import DynokeeperConfiguration
import Foundation
import RedisClient

/// Where the node's Redis keeps its files and how it loads them at start-up.
package struct RedisLayout: Sendable, Equatable, Codable {
    /// The data folder, as dynokeeper sees it.
    package var directory: String
    package var dbFilename: String
    /// Whether Redis loads the AOF (and not the RDB) at start-up.
    package var appendOnly: Bool
    package var appendFilename: String
    /// The multi-part AOF folder (Redis 7+); `nil` before Redis 7.
    package var appendDirectory: String?

    /// Asks the running Redis.
    static func read(from redis: RedisConnection, dataDirectory: String?) async throws -> RedisLayout {
        let directory: String
        if let dataDirectory {
            directory = dataDirectory
        } else {
            guard let dir = try await redis.configGet("dir"), !dir.isEmpty else {
                throw DynokeeperError.snapshot("Redis did not say its data folder (CONFIG GET dir); set redis.data_dir")
            }
            directory = dir
        }
        let appendDirectory = try await redis.configGet("appenddirname")
        return RedisLayout(
            directory: directory, dbFilename: try await redis.configGet("dbfilename") ?? "dump.rdb",
            appendOnly: try await redis.configGet("appendonly") == "yes",
            appendFilename: try await redis.configGet("appendfilename") ?? "appendonly.aof",
            appendDirectory: appendDirectory.flatMap { $0.isEmpty ? nil : $0 })
    }

    /// Reads redis.conf, for when Redis is down; Redis's defaults fill what it does not say.
    /// - Parameters:
    ///   - path: redis.conf.
    ///   - dataDirectory: `redis.data_dir`, which wins over the file's `dir`.
    ///   - multiPart: Whether this Redis is 7 or newer (multi-part AOF).
    static func read(conf path: String, dataDirectory: String?, multiPart: Bool) throws -> RedisLayout {
        let settings = try settings(conf: path)
        guard let directory = dataDirectory ?? settings["dir"] else {
            throw ConfigurationError("\(path) has no dir; set redis.data_dir")
        }
        let base =
            directory.hasPrefix("/") ? directory : ((path as NSString).deletingLastPathComponent + "/" + directory)
        return RedisLayout(
            directory: base, dbFilename: settings["dbfilename"] ?? "dump.rdb",
            appendOnly: settings["appendonly"]?.lowercased() == "yes",
            appendFilename: settings["appendfilename"] ?? "appendonly.aof",
            appendDirectory: multiPart ? (settings["appenddirname"] ?? "appendonlydir") : nil)
    }

    /// Whether a configuration file turns the AOF on (Redis's default: no); `nil` when it includes other files,
    /// which may say otherwise.
    static func appendOnly(conf path: String) throws -> Bool? {
        let settings = try settings(conf: path)
        guard settings["include"] == nil else { return nil }
        return settings["appendonly"]?.lowercased() == "yes"
    }

    /// A redis.conf's settings (the last of each wins, as in Redis; `include` files are not followed).
    static func settings(conf path: String) throws -> [String: String] {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            let reason =
                access(path, F_OK) != 0
                ? "it does not exist" : access(path, R_OK) != 0 ? "this user may not read it" : "it is not UTF-8 text"
            throw ConfigurationError("redis.conf: cannot read \(path): \(reason)")
        }
        var settings: [String: String] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            let tokens = try RedisLine.tokenize(String(line))
            guard tokens.count >= 2, !tokens[0].hasPrefix("#") else { continue }
            settings[tokens[0].lowercased()] = tokens[1]
        }
        return settings
    }

    /// The paths (relative to the data folder) that hold Redis's data today: set aside during a restore.
    var dataPaths: [String] {
        var paths = [dbFilename, appendFilename]
        if let appendDirectory { paths.append(appendDirectory) }
        return paths
    }
}
