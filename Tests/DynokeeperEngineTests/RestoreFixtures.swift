import DynokeeperConfiguration
import DynokeeperEngine
import DynokeeperTestSupport
import Foundation
import Logging
import ObjectStorage
import Testing

/// A node to restore into: a managed Redis (started and stopped through commands), optionally behind a
/// stand-in Dynomite, and the configuration that describes them.
struct RestoreNode: TestResource {
    let redis: ManagedRedis
    let dynomite: StandInDynomite?
    var configuration: DynokeeperConfiguration

    /// - Parameters:
    ///   - extra: More redis.conf lines.
    ///   - asRedisUser: Redis runs as Debian's `redis` user.
    ///   - startCommand: `redis.start`, instead of the managed one.
    ///   - stopCommand: `redis.stop` (`nil` inside: none, SHUTDOWN NOSAVE), instead of the managed one.
    ///   - moreYAML: More top-level configuration.
    static func make(
        cluster: String = "test-cluster", appendOnly: Bool = false, withDynomite: Bool = false,
        restoreEnabled: Bool = true, restoreMethod: String = "files",
        extra: [String] = [], asRedisUser: Bool = false, startCommand: ((ManagedRedis) -> String)? = nil,
        stopCommand: ((ManagedRedis) -> String?)? = nil, moreYAML: String = ""
    ) async throws -> RestoreNode {
        let redis = try ManagedRedis(appendOnly: appendOnly, extra: extra, asRedisUser: asRedisUser)
        try await redis.start()
        let stop = stopCommand.map { $0(redis) } ?? redis.stopCommand
        var yaml = """
            cluster: \(cluster)
            redis:
              port: \(redis.port)
              conf: \(redis.confPath)
              start: "\(startCommand?(redis) ?? redis.startCommand)"
            \(stop.map { "  stop: \"\($0)\"" } ?? "")
            restore:
              enabled: \(restoreEnabled)
              method: \(restoreMethod)
            \(moreYAML)
            """
        var dynomite: StandInDynomite?
        if withDynomite {
            let standIn = try StandInDynomite(redisPort: redis.port, events: redis.eventsPath)
            try await standIn.start()
            yaml += """

                node:
                  dynomite_yaml: \(try standIn.dynomiteYAML(redisPort: redis.port))
                dynomite:
                  start: "\(standIn.startCommand)"
                  stop: "\(standIn.stopCommand)"
                """
            dynomite = standIn
        }
        let configuration = try DynokeeperConfiguration.parse(yaml: yaml, path: "test.yml")
        return RestoreNode(redis: redis, dynomite: dynomite, configuration: configuration)
    }

    var settings: NodeSettings { get throws { try NodeSettings.resolve(configuration) } }

    /// The node's folders (data, state), as dynokeeper finds them.
    var folders: NodeFolders { get throws { try #require(try NodeFolders.withoutRedis(configuration)) } }

    /// Whether a restore journal is there.
    var hasJournal: Bool {
        FileManager.default.fileExists(atPath: redis.dataPath + "/.dynokeeper/restore-journal.json")
    }

    /// The node's data as a server: for populating and backing up with the test helpers.
    var port: Int { redis.port }

    func restore(store: any ObjectStore) throws -> NodeRestore {
        let node = try settings
        return NodeRestore(
            configuration: configuration, node: node,
            connector: RedisConnector(node: node, redis: configuration.redis, logger: Engine.logger), store: store,
            logger: Engine.logger)
    }

    func backup(
        store: any ObjectStore, id: SnapshotID? = nil, type: DynokeeperConfiguration.Backup.PersistenceType = .rdb
    ) async throws -> SnapshotManifest {
        var options = NodeBackup.Options(type: type)
        options.snapshotID = id
        options.dynomiteManagerCopy = configuration.backup.format == .dynomiteManager
        var backup = Engine.backup(try settings, store: store)
        backup.keys = SnapshotKeyring(configuration.encryption)
        return try await backup.run(options).manifest
    }

    /// Replaces the node's data with other data, as a bad deploy or corruption would.
    func scribble(_ tag: String) async throws {
        _ = try await redis.cli(["FLUSHALL"])
        _ = try await redis.cli(["MSET", "scribbled:\(tag):1", "x", "scribbled:\(tag):2", "y"])
    }

    func populate(_ tag: String) async throws {
        try await RedisDataset.populateAllTypes(redis, tag: tag)
    }

    func content() async throws -> RedisContent { try await RedisContent.read(port: redis.port) }

    func close() async {
        await dynomite?.stopAndRemove()
        await redis.stopAndRemove()
    }
}
