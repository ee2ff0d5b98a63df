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
