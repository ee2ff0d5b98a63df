import DynokeeperTestSupport
import Foundation
import Testing

/// `dynokeeper restore` as an operator runs it, including a restore killed halfway and finished with
/// `--resume` or undone with `--rollback`.
@Suite(.tags(.integration, .process)) struct RestoreCommandTests {
    struct Node {
        let redis: ManagedRedis
        let store: TemporaryDirectory

        func environment(start: String? = nil) -> [String: String?] {
            [
                "DYNOKEEPER_REDIS_PORT": String(redis.port), "DYNOKEEPER_REDIS_CONF": redis.confPath,
                "DYNOKEEPER_REDIS_START": start ?? redis.startCommand, "DYNOKEEPER_REDIS_STOP": redis.stopCommand,
                "DYNOKEEPER_RESTORE_ENABLED": "true", "DYNOKEEPER_STORAGE_URL": store.path,
                "DYNOKEEPER_LOG_LEVEL": "warning",
            ]
        }

        func get(_ key: String) async throws -> String {
            try await redis.cli(["GET", key]).stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
        }

        var journal: String { redis.dataPath + "/.dynokeeper-restore/journal.json" }

        static func make() async throws -> Node {
            let redis = try ManagedRedis()
            try await redis.start()
            return Node(redis: redis, store: try TemporaryDirectory(prefix: "cli-store"))
        }

        func close() async {
            await redis.stopAndRemove()
            store.remove()
        }
    }

    /// `restore.on_start` (here as Dynomite-manager's v2 property, which meant it): an empty node fills itself once
    /// when serve starts, and a restart does not restore again.
    @Test func aNewNodeRestoresOnceWhenServeStarts() async throws {
        try await withResource(Node.make()) { node in
            _ = try await node.redis.cli(["SET", "greeting", "from-the-backup"])
            #expect(try await DynokeeperBinary.run(["backup"], environment: node.environment()).status == 0)
            _ = try await node.redis.cli(["FLUSHALL"])  // a new node: empty
            let folder = try TemporaryDirectory(prefix: "on-start")
            defer { folder.remove() }
            let port = try FreePort.next()
            var environment = node.environment()
            environment["DYNOKEEPER_RESTORE_ENABLED"] = nil
            environment["DBSIDECAR_COMMON_DYNO_BACKUP_RESTORE_ENABLED"] = "true"
            environment["DYNOKEEPER_SERVER_LISTEN"] = "127.0.0.1:\(port)"
            environment["DYNOKEEPER_LOG_LEVEL"] = "info"
            func serve(_ log: String) async throws -> BackgroundProcess {
                let serve = try BackgroundProcess(
                    try DynokeeperBinary.path, ["serve"], logPath: folder.file(log),
                    environment: DynokeeperBinary.cleanEnvironment(environment), currentDirectory: folder.path)
                try await serve.waitUntil("the restore at start-up", timeout: .seconds(120)) {
                    serve.logTail(lines: 200).contains("restore.on_start: ")
                }
                return serve
            }
            let first = try await serve("first.log")
            #expect(first.logTail(lines: 200).contains("restore.on_start: restored snapshot"), "\(first.logTail())")
            #expect(try await node.get("greeting") == "from-the-backup")
            await first.stop()

            // New writes after the start; a restart must keep them.
            _ = try await node.redis.cli(["SET", "greeting", "written-after-start"])
            let second = try await serve("second.log")
            #expect(second.logTail(lines: 200).contains("restore.on_start: already done"), "\(second.logTail())")
            #expect(try await node.get("greeting") == "written-after-start")
            await second.stop()
        }
    }

    /// A node that already holds data is a restart, not a new node: restore.on_start leaves it alone (and records
    /// it). A new node whose restore fails is not backed up empty by the schedule's catch-up.
    @Test func restoreOnStartNeverReplacesDataAndAFailedOneHoldsBackupsBack() async throws {
        try await withResource(Node.make()) { node in
            let folder = try TemporaryDirectory(prefix: "on-start-safety")
            defer { folder.remove() }
            func serve(_ log: String, _ more: [String: String?]) async throws -> BackgroundProcess {
                var environment = node.environment()
                environment["DYNOKEEPER_RESTORE_ON_START"] = "true"
                environment["DYNOKEEPER_SERVER_LISTEN"] = "127.0.0.1:\(try FreePort.next())"
                environment["DYNOKEEPER_LOG_LEVEL"] = "info"
                environment.merge(more) { $1 }
                return try BackgroundProcess(
                    try DynokeeperBinary.path, ["serve"], logPath: folder.file(log),
                    environment: DynokeeperBinary.cleanEnvironment(environment), currentDirectory: folder.path)
            }
            // Data and a snapshot, no record: skipped, the data stays.
            _ = try await node.redis.cli(["SET", "greeting", "from-the-backup"])
            #expect(try await DynokeeperBinary.run(["backup"], environment: node.environment()).status == 0)
            _ = try await node.redis.cli(["SET", "greeting", "live-data"])
            let restart = try await serve("restart.log", [:])
            try await restart.waitUntil("the decision", timeout: .seconds(120)) {
                restart.logTail(lines: 200).contains("restore.on_start: ")
            }
            #expect(restart.logTail(lines: 200).contains("restore.on_start: skipped: Redis already holds"))
            #expect(try await node.get("greeting") == "live-data")
            await restart.stop()

            // A new node (empty, its own state folder) whose restore fails: no backup of the empty node.
            _ = try await node.redis.cli(["FLUSHALL"])
            let empty = try TemporaryDirectory(prefix: "empty-store")
            defer { empty.remove() }
            let failing = try await serve(
                "failing.log",
                [
                    "DYNOKEEPER_STORAGE_URL": empty.path, "DYNOKEEPER_BACKUP_ENABLED": "true",
                    "DYNOKEEPER_NODE_STATE_DIR": folder.file("state"),
                ])
            try await failing.waitUntil("the refused catch-up", timeout: .seconds(120)) {
                failing.logTail(lines: 200).contains("scheduled backup refused: restore.on_start has not restored")
            }
            #expect(failing.logTail(lines: 200).contains("the restore at start-up failed"))
            await failing.stop()
            // Nor from the command line: the next start would restore that empty snapshot.
            var pendingEnvironment = node.environment()
            pendingEnvironment.merge([
                "DYNOKEEPER_RESTORE_ON_START": "true", "DYNOKEEPER_STORAGE_URL": empty.path,
                "DYNOKEEPER_NODE_STATE_DIR": folder.file("state"),
            ]) { $1 }
            let refused = try await DynokeeperBinary.run(["backup"], environment: pendingEnvironment)
            #expect(
                refused.status == 1 && refused.stderrText.contains("restore.on_start has not restored this node yet"),
                "\(refused.stderrText)")
            let listed = try await DynokeeperBinary.run(
                ["snapshots"], environment: node.environment().merging(["DYNOKEEPER_STORAGE_URL": empty.path]) { $1 })
            #expect(listed.stdoutText.contains("(no complete snapshots)"), "\(listed.stdoutText)")
        }
    }

    @Test func restoreDryRunAndRestore() async throws {
        try await withResource(Node.make()) { node in
            _ = try await node.redis.cli(["SET", "greeting", "from-the-backup"])
            let backup = try await DynokeeperBinary.run(["backup"], environment: node.environment())
            #expect(backup.status == 0, "\(backup.stderrText)")
            _ = try await node.redis.cli(["SET", "greeting", "changed-later"])

            let dry = try await DynokeeperBinary.run(["restore", "--dry-run"], environment: node.environment())
            #expect(dry.status == 0, "\(dry.stderrText)")
            #expect(dry.stdoutText.hasPrefix("would restore snapshot 2"))
            #expect(dry.stdoutText.contains("dry run: nothing was changed"))
            #expect(try await node.get("greeting") == "changed-later")

            let restored = try await DynokeeperBinary.run(["restore"], environment: node.environment())
            #expect(restored.status == 0, "\(restored.stderrText)")
            #expect(restored.stdoutText.hasPrefix("restored snapshot 2"))
            #expect(restored.stdoutText.contains("start Redis and load: "))
            #expect(try await node.get("greeting") == "from-the-backup")

            let disabled = try await DynokeeperBinary.run(
                ["restore"], environment: node.environment().merging(["DYNOKEEPER_RESTORE_ENABLED": "false"]) { $1 })
            #expect(disabled.status == 1)
            #expect(disabled.stderrText.contains("set restore.enabled: true"))

            let badDate = try await DynokeeperBinary.run(
                ["restore", "--date", "yesterday"], environment: node.environment())
            #expect(badDate.status == 1)
            #expect(badDate.stderrText.contains("\"yesterday\" is not a date"))
        }
    }
}

extension RestoreCommandTests.Node: TestResource {}
