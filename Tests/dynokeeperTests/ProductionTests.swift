import DynokeeperTestSupport
import Foundation
import Testing

/// dynokeeper as operators run it: as an unprivileged user (in Redis's group), against a Redis that runs as
/// Debian's `redis` user under a supervisor that restarts it when it exits. Needs root to switch users (CI runs
/// as root); skipped otherwise.
@Suite(
    .enabled(if: SystemUsers.canSwitchUsers, "needs root to run Redis as redis and dynokeeper as nobody"),
    .tags(.integration, .process))
struct ProductionTests {
    struct Node {
        let redis: ManagedRedis
        let store: TemporaryDirectory

        /// The configuration, by environment; `stop: nil` leaves redis.stop out (SHUTDOWN NOSAVE).
        func environment(stop: String?? = .none) -> [String: String?] {
            var environment: [String: String?] = [
                "DYNOKEEPER_REDIS_PORT": String(redis.port), "DYNOKEEPER_REDIS_CONF": redis.confPath,
                "DYNOKEEPER_REDIS_START": redis.startCommand, "DYNOKEEPER_REDIS_STOP": redis.stopCommand,
                "DYNOKEEPER_RESTORE_ENABLED": "true", "DYNOKEEPER_STORAGE_URL": store.path,
                "DYNOKEEPER_LOG_LEVEL": "warning",
            ]
            if case .some(let stop) = stop { environment["DYNOKEEPER_REDIS_STOP"] = stop }
            return environment
        }

        /// Redis as `redis` under a supervisor, and a local store that only dynokeeper's user may read.
        static func make(
            appendOnly: Bool, asRedisUser: Bool = true, runner: SystemUsers.Runner = .current
        ) async throws -> Node {
            let redis = try ManagedRedis(appendOnly: appendOnly, asRedisUser: asRedisUser, supervised: true)
            try await redis.start()
            let store = try TemporaryDirectory(prefix: "production-store")
            if let account = runner.account {
                SystemUsers.chown(store.path, to: account, folderMode: 0o700, fileMode: 0o600)
            }
            return Node(redis: redis, store: store)
        }

        func close() async {
            await redis.stopAndRemove()
            store.remove()
        }

        /// Every file and folder under the data folder, relative.
        func dataFiles() -> [String] {
            let enumerator = FileManager.default.enumerator(atPath: redis.dataPath)
            return (enumerator?.allObjects as? [String] ?? []).sorted()
        }
    }

    struct Setup: Sendable, CustomTestStringConvertible {
        var runner: SystemUsers.Runner
        var appendOnly: Bool
        /// Whether the operator gave Redis's group write access to the AOF folder (Redis makes it 0755 less its
        /// umask, so only Redis's own user may change it otherwise), as the README says.
        var groupWritableAOFFolder = false
        var testDescription: String {
            "dynokeeper as \(runner), \(appendOnly ? "multi-part AOF" : "RDB")\(groupWritableAOFFolder ? ", AOF folder group-writable" : "")"
        }
    }

    @Test(arguments: [
        Setup(runner: .nobodyInRedisGroup, appendOnly: false),
        Setup(runner: .redis, appendOnly: true),
        Setup(runner: .nobodyInRedisGroup, appendOnly: true, groupWritableAOFFolder: true),
    ])
    func anUnprivilegedDynokeeperBacksUpAndRestoresARedisThatRunsAsRedis(setup: Setup) async throws {
        let appendOnly = setup.appendOnly
        try await withResource(Node.make(appendOnly: appendOnly, runner: setup.runner)) { node in
            if setup.groupWritableAOFFolder { chmod(node.redis.dataPath + "/appendonlydir", 0o2770) }
            try await RedisDataset.populateAllTypes(node.redis, tag: "production")
            let backup = try await DynokeeperBinary.run(
                ["backup", "--type", appendOnly ? "aof" : "rdb"], environment: node.environment(), as: setup.runner)
            #expect(backup.status == 0, "\(backup.stderrText)")
            let before = try await RedisContent.read(port: node.redis.port)
            _ = try await node.redis.cli(["FLUSHALL"])
            _ = try await node.redis.cli(["SET", "written-after-the-backup", "x"])

            let restore = try await DynokeeperBinary.run(["restore"], environment: node.environment(), as: setup.runner)
            #expect(restore.status == 0, "\(restore.stderrText)")
            #expect(try await RedisContent.read(port: node.redis.port) == before)

            // Redis (user redis, group redis) can read and write every file it uses, and nothing of the node is
            // readable by other users.
            let redisUser = try #require(SystemUsers.redis)
            let files = node.dataFiles().filter { !$0.hasPrefix(".dynokeeper") }
            #expect(!files.isEmpty)
            for file in files {
                let path = node.redis.dataPath + "/" + file
                #expect(
                    SystemUsers.canReadAndWrite(path, as: redisUser),
                    "\(file): \(String(describing: SystemUsers.owner(of: path)))")
                #expect((SystemUsers.owner(of: path)?.mode ?? 0o777) & 0o007 == 0, "\(file) is open to other users")
            }
            for file in node.dataFiles() where file.hasPrefix(".dynokeeper") {
                #expect(
                    (SystemUsers.owner(of: node.redis.dataPath + "/" + file)?.mode ?? 0o777) & 0o007 == 0,
                    "\(file) is open to other users")
            }
            // And it really writes them: a save, a rewrite, and new writes appended to the restored AOF.
            _ = try await node.redis.cli(["SET", "after-the-restore", "y"])
            #expect(try await node.redis.cli(["SAVE"]).stdoutText.contains("OK"))
            if appendOnly {
                _ = try await node.redis.cli(["BGREWRITEAOF"])
                let info = try await node.redis.cli(["INFO", "persistence"]).stdoutText
                #expect(info.contains("aof_last_write_status:ok"))
            }
            // The same restore again, after a supervisor restart of Redis.
            let again = try await DynokeeperBinary.run(["restore"], environment: node.environment(), as: setup.runner)
            #expect(again.status == 0, "\(again.stderrText)")
            #expect(try await RedisContent.read(port: node.redis.port) == before)
        }
    }

    /// With Debian's umask, Redis's AOF folder is writable by Redis's user only: a dynokeeper of another user
    /// cannot set it aside, and says so before it touches anything.
    @Test func anAOFFolderThatOnlyRedisMayChangeIsRefusedUpFront() async throws {
        try await withResource(Node.make(appendOnly: true, runner: .nobodyInRedisGroup)) { node in
            try await RedisDataset.populateAllTypes(node.redis, tag: "aof")
            let backup = try await DynokeeperBinary.run(
                ["backup", "--type", "aof"], environment: node.environment(), as: .nobodyInRedisGroup)
            #expect(backup.status == 0, "\(backup.stderrText)")
            _ = try await node.redis.cli(["SET", "current", "data"])
            let current = try await RedisContent.read(port: node.redis.port)
            let events = node.redis.events()
            let restore = try await DynokeeperBinary.run(
                ["restore"], environment: node.environment(), as: .nobodyInRedisGroup)
            #expect(restore.status == 1)
            #expect(
                restore.stderrText.contains("dynokeeper runs as nobody and cannot change Redis's AOF folder"),
                "\(restore.stderrText)")
            #expect(restore.stderrText.contains("owner redis, group redis, mode 750"))
            #expect(restore.stderrText.contains("nothing was touched"))
            #expect(node.redis.events() == events)
            #expect(try await RedisContent.read(port: node.redis.port) == current)
        }
    }

    @Test func aSupervisorThatRestartsRedisIsFoundOutAndNothingIsLost() async throws {
        try await withResource(Node.make(appendOnly: false, asRedisUser: false)) { node in
            try await RedisDataset.populateAllTypes(node.redis, tag: "backup")
            #expect(try await DynokeeperBinary.run(["backup"], environment: node.environment()).status == 0)
            _ = try await node.redis.cli(["SET", "current", "data"])
            let current = try await RedisContent.read(port: node.redis.port)

            // No redis.stop: dynokeeper stops Redis with SHUTDOWN NOSAVE, and the supervisor brings it back at once.
            let naive = try await DynokeeperBinary.run(["restore"], environment: node.environment(stop: .some(nil)))
            #expect(naive.status == 1)
            #expect(naive.stderrText.contains("came back as another process"), "\(naive.stderrText)")
            #expect(naive.stderrText.contains("set redis.stop and redis.start"))
            #expect(naive.stderrText.contains("Rolled back"))
            #expect(try await RedisContent.read(port: node.redis.port) == current)
            #expect(!FileManager.default.fileExists(atPath: node.redis.dataPath + "/.dynokeeper/restore-journal.json"))

            // With the supervisor's own stop and start, the restore goes through.
            let proper = try await DynokeeperBinary.run(["restore"], environment: node.environment())
            #expect(proper.status == 0, "\(proper.stderrText)")
            #expect(try await RedisContent.read(port: node.redis.port) != current)
            #expect(
                try await node.redis.cli(["EXISTS", "current"]).stdoutText.trimmingCharacters(
                    in: .whitespacesAndNewlines) == "0")
        }
    }
}

/// A store that cannot be read is an error, never an empty or shorter list.
@Suite(
    .enabled(if: SystemUsers.canSwitchUsers, "needs root to run dynokeeper as nobody"), .tags(.integration, .process))
struct UnreadableStoreTests {
    @Test func aFolderOfTheStoreThatCannotBeReadFailsTheListingAndTheRestore() async throws {
        let store = try TemporaryDirectory(prefix: "unreadable-store")
        defer { store.remove() }
        try await withResource(RedisServer.start()) { redis in
            let nobody = try #require(SystemUsers.nobody)
            SystemUsers.chown(store.path, to: nobody, folderMode: 0o700, fileMode: 0o600)
            let environment: [String: String?] = [
                "DYNOKEEPER_REDIS_PORT": String(redis.port), "DYNOKEEPER_STORAGE_URL": store.path,
                "DYNOKEEPER_RESTORE_ENABLED": "true",
                "DYNOKEEPER_REDIS_DATA_DIR": store.path, "DYNOKEEPER_REDIS_START": "true",
                "DYNOKEEPER_NODE_STATE_DIR": store.path + "/state",
            ]
            // Two snapshots, one per node folder of the cluster (the backup runs as root: Redis's folder is its own).
            _ = try await redis.cli(["SET", "k", "v"])
            #expect(
                try await DynokeeperBinary.run(
                    ["backup"],
                    environment: environment.merging([
                        "DYNOKEEPER_REDIS_DATA_DIR": nil, "DYNOKEEPER_NODE_STATE_DIR": nil,
                    ]) { $1 }
                ).status == 0)
            SystemUsers.chown(store.path, to: nobody, folderMode: 0o700, fileMode: 0o600)
            let listed = try await DynokeeperBinary.run(
                ["snapshots", "--all-nodes"], environment: environment, as: .nobodyInRedisGroup)
            #expect(listed.status == 0, "\(listed.stderrText)")
            #expect(listed.stdoutText.contains("dc1/rack1/0"))

            chmod(store.path + "/dynomite/dc1/rack1", 0o000)
            let unreadable = try await DynokeeperBinary.run(
                ["snapshots", "--all-nodes"], environment: environment, as: .nobodyInRedisGroup)
            #expect(unreadable.status == 1)
            #expect(
                unreadable.stderrText.contains("cannot list \(store.path)/dynomite/dc1/rack1: Permission denied"),
                "\(unreadable.stderrText)")
            #expect(!unreadable.stdoutText.contains("no complete snapshots"))
            let restore = try await DynokeeperBinary.run(
                ["restore", "--dry-run"], environment: environment, as: .nobodyInRedisGroup)
            #expect(restore.status == 1)
            #expect(restore.stderrText.contains("Permission denied"), "\(restore.stderrText)")
        }
    }
}

extension ProductionTests.Node: TestResource {}
