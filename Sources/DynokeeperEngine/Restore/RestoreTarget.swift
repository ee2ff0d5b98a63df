import DynokeeperConfiguration
import Foundation
import RedisClient

/// The node's Redis as a restore finds it: how it lays out and loads its data, what it runs, and how it is
/// supervised.
struct RestoreTarget: Sendable {
    var layout: RedisLayout
    /// Whether Redis answered.
    var up: Bool
    var version: String?
    /// The newest RDB format this Redis loads, when known.
    var newestRDBVersion: Int?
    /// `CONFIG GET supervised`.
    var supervised: String?
    /// The current RDB's size: about what the safety save writes again.
    var currentRDBSize: Int64
    var notes: [String]

    static func inspect(
        _ configuration: DynokeeperConfiguration, connector: RedisConnector, folders: NodeFolders
    ) async throws -> RestoreTarget {
        let redis: RedisConnection
        do {
            redis = try await connector.connect()
        } catch let error as RedisError {
            // Only a Redis that refuses connections is down; one that refuses the password runs.
            guard case .connectionFailed = error else { throw error }
            guard let conf = configuration.redis.conf else {
                throw DynokeeperError.snapshot(
                    "cannot reach Redis at \(connector.address): \(error). With Redis down, dynokeeper reads its layout from redis.conf, which is not set: start Redis, or set redis.conf"
                )
            }
            let layout = try RedisLayout.read(conf: conf, dataDirectory: configuration.redis.dataDir, multiPart: true)
            return RestoreTarget(
                layout: layout, up: false, currentRDBSize: 0,
                notes: [
                    "Redis at \(connector.address) is not running (\(error)): its layout comes from \(conf), and whether it can load the snapshot's RDB format is not checked"
                ])
        }
        return try await redis.closing { try await inspect(running: $0, configuration, folders: folders) }
    }

    /// Inspects the running Redis.
    private static func inspect(
        running redis: RedisConnection, _ configuration: DynokeeperConfiguration, folders: NodeFolders
    ) async throws -> RestoreTarget {
        var layout = try await RedisLayout.read(from: redis, dataDirectory: configuration.redis.dataDir)
        if let mismatch = folders.mismatch(runningDirectory: layout.directory, configuration) {
            throw ConfigurationError(mismatch)
        }
        let server = try await redis.info("server")
        let supervised = try await redis.configGet("supervised")
        var notes: [String] = []
        // Redis loads what its configuration file says at start-up, not what CONFIG SET changed since.
        let file = configuration.redis.conf ?? server["config_file"].flatMap { $0.isEmpty ? nil : $0 }
        if let file {
            do {
                if let appendOnly = try RedisLayout.appendOnly(conf: file) {
                    if appendOnly != layout.appendOnly {
                        notes.append(
                            "Redis runs with appendonly \(layout.appendOnly ? "yes" : "no") now, but its configuration file \(file) says appendonly \(appendOnly ? "yes" : "no"), which is what it will start with: the restore follows the file"
                        )
                        layout.appendOnly = appendOnly
                    }
                } else {
                    notes.append(
                        "Redis's configuration file \(file) includes other files: the restore assumes Redis starts with appendonly \(layout.appendOnly ? "yes" : "no"), as it runs now, and checks it after the start"
                    )
                }
            } catch {
                notes.append(
                    "cannot read Redis's configuration file \(file): the restore assumes Redis starts with appendonly \(layout.appendOnly ? "yes" : "no"), as it runs now, and checks it after the start"
                )
            }
        }
        var rdb = stat()
        let currentRDBSize = stat(layout.directory + "/" + layout.dbFilename, &rdb) == 0 ? Int64(rdb.st_size) : 0
        return RestoreTarget(
            layout: layout, up: true, version: server.version,
            newestRDBVersion: server.version.flatMap {
                RDBVersion.newestLoadable(redisVersion: $0, serverName: server["server_name"])
            },
            supervised: supervised, currentRDBSize: currentRDBSize, notes: notes)
    }

    static func realPath(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
