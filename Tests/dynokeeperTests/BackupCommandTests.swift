import DynokeeperEngine
import DynokeeperTestSupport
import Foundation
import Testing

/// `dynokeeper backup` and `dynokeeper snapshots` as an operator runs them.
@Suite(.tags(.integration, .process)) struct BackupCommandTests {
    @Test func backupThenListToS3() async throws {
        let server = try await SeaweedFS.shared()
        let bucket = try await server.makeBucket("cli-backup")
        try await withResource(RedisServer.start()) { redis in
            try await RedisDataset.populateAllTypes(redis)
            let environment: [String: String?] = [
                "DYNOKEEPER_CLUSTER": "cli-cluster", "DYNOKEEPER_REDIS_PORT": String(redis.port),
                "DYNOKEEPER_STORAGE_URL": "s3://\(bucket)/backups", "DYNOKEEPER_STORAGE_ENDPOINT": server.endpoint,
                "DYNOKEEPER_NODE_RACK": "rack-a", "DYNOKEEPER_NODE_TOKENS": "42",
                "AWS_ACCESS_KEY_ID": server.accessKey, "AWS_SECRET_ACCESS_KEY": server.secretKey,
                "AWS_EC2_METADATA_DISABLED": "true",
            ]
            let backup = try await DynokeeperBinary.run(["backup"], environment: environment)
            #expect(backup.status == 0, "\(backup.stderrText)")
            let firstLine = backup.stdoutText.split(separator: "\n").first.map(String.init) ?? ""
            #expect(firstLine.hasPrefix("snapshot 2"))
            #expect(firstLine.hasSuffix(" of cli-cluster dc1/rack-a/42 (rdb)"))
            let id = String(firstLine.split(separator: " ")[1])
            #expect(backup.stdoutText.contains("location: s3://\(bucket)/backups/cli-cluster/dc1/rack-a/42/\(id)/"))
            #expect(backup.stdoutText.contains("keys: 351"))

            // awscli sees the layout.
            let listed = try await server.awsCheck(["s3", "ls", "--recursive", "s3://\(bucket)/backups/"])
            #expect(listed.stdoutText.contains("backups/cli-cluster/dc1/rack-a/42/\(id)/dump.rdb.zst"))
            #expect(listed.stdoutText.contains("backups/cli-cluster/dc1/rack-a/42/\(id)/manifest.json"))

            let table = try await DynokeeperBinary.run(["snapshots"], environment: environment)
            #expect(table.status == 0, "\(table.stderrText)")
            let lines = table.stdoutText.split(separator: "\n")
            #expect(lines.first?.hasPrefix("ID") == true)
            #expect(lines.count == 3)
            #expect(lines[1].hasPrefix("\(id)  cli-cluster/dc1/rack-a/42  rdb"))
            #expect(
                lines.last?.hasPrefix("1 snapshot(s), ") == true
                    && lines.last?.hasSuffix("newest \(id), oldest \(id)") == true)

            let json = try await DynokeeperBinary.run(["snapshots", "--json", "--all-nodes"], environment: environment)
            #expect(json.status == 0)
            let object =
                try JSONSerialization.jsonObject(with: Data(json.stdoutText.split(separator: "\n")[0].utf8))
                as? [String: Any]
            #expect(object?["id"] as? String == id)
            #expect(object?["keys"] as? Int == 351)
            #expect(object?["tokens"] as? String == "42")

            let otherCluster = try await DynokeeperBinary.run(
                ["snapshots", "--cluster", "nothing-here"], environment: environment)
            #expect(otherCluster.stdoutText.contains("(no complete snapshots)"))

            // --json prints the job result the API shows, as the shared contract decodes it.
            let asJSON = try await DynokeeperBinary.run(["backup", "--json"], environment: environment)
            #expect(asJSON.status == 0, "\(asJSON.stderrText)")
            let result = try APIJSON.decoder.decode(JobResult.self, from: Data(asJSON.stdoutText.utf8))
            #expect(result.keys == 351)
            #expect(result.snapshot.flatMap(SnapshotID.init) != nil && result.snapshot != id)
            #expect(result.location == "s3://\(bucket)/backups/cli-cluster/dc1/rack-a/42/\(result.snapshot ?? "")/")
            #expect((result.size ?? 0) > 0 && (result.storedSize ?? 0) > 0)
        }
    }

    @Test func backupOfAnUnreachableRedisFailsClearly() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let port = try FreePort.next()
        let result = try await DynokeeperBinary.run(
            ["backup", "--log-level", "error"], environment: ["DYNOKEEPER_REDIS_PORT": String(port)], in: folder.path)
        #expect(result.status == 1)
        #expect(result.stderrText.hasPrefix("error: cannot connect to Redis at 127.0.0.1:\(port)"))
        #expect(result.stdoutText.isEmpty)
        let stored = (try? FileManager.default.subpathsOfDirectory(atPath: folder.file("var/backups"))) ?? []
        #expect(!stored.contains { $0.hasSuffix("manifest.json") })
    }

    @Test func jsonLogsAreOneObjectPerLine() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        try await withResource(RedisServer.start()) { redis in
            let result = try await DynokeeperBinary.run(
                ["backup", "--log-format", "json"], environment: ["DYNOKEEPER_REDIS_PORT": String(redis.port)],
                in: folder.path)
            #expect(result.status == 0, "\(result.stderrText)")
            let lines = result.stderrText.split(separator: "\n")
            #expect(!lines.isEmpty)
            for line in lines {
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                #expect(object?["level"] != nil && object?["message"] != nil, "\(line)")
            }
        }
    }
}

/// One backup or restore at a time per node, across processes.
@Suite(.tags(.integration, .process)) struct NodeLockCommandTests {
    @Test func aSecondBackupWhileOneRunsIsBusyAndNamesTheFirst() async throws {
        let store = try TemporaryDirectory(prefix: "lock-store")
        defer { store.remove() }
        // Each key takes 25 ms to save, so the first backup's BGSAVE of 1000 keys runs for about 25 seconds. As soon as
        // it holds the lock it is paused (SIGSTOP) until the second has answered: a loaded machine that keeps this
        // test waiting for seconds cannot let the first finish before the second asks.
        try await withResource(RedisServer.start(arguments: ["--rdb-key-save-delay", "25000"])) { redis in
            try await RedisDataset.populateRandom(redis, count: 1000, size: 16)
            let environment: [String: String?] = [
                "DYNOKEEPER_REDIS_PORT": String(redis.port), "DYNOKEEPER_STORAGE_URL": store.path,
            ]
            let first = try BackgroundProcess(
                try DynokeeperBinary.path, ["backup"], logPath: store.file("first.log"),
                environment: DynokeeperBinary.cleanEnvironment(environment))
            let lockFile = redis.directory.path + "/.dynokeeper/lock"
            try await first.waitUntil("the first backup to hold the lock", timeout: .seconds(30)) {
                ((try? String(contentsOfFile: lockFile, encoding: .utf8)) ?? "").contains("\"operation\":\"backup\"")
            }
            kill(first.pid, SIGSTOP)
            let unfinished = try await DynokeeperBinary.run(["snapshots", "--json"], environment: environment)
            try #require(
                first.isRunning && unfinished.stdoutText.isEmpty,
                "the first backup finished before it could be paused: \(first.logTail())")
            let second = try await DynokeeperBinary.run(["backup"], environment: environment)
            kill(first.pid, SIGCONT)
            #expect(second.status == 1)
            #expect(second.stderrText.contains("busy: backup started by pid \(first.pid) at "), "\(second.stderrText)")
            try await first.waitUntil("the first backup to finish", timeout: .seconds(90)) { !first.isRunning }
            // One snapshot, whole; and the lock is free again.
            let listed = try await DynokeeperBinary.run(["snapshots", "--json"], environment: environment)
            #expect(listed.stdoutText.split(separator: "\n").count == 1, "\(listed.stdoutText)")
            _ = try await redis.command("CONFIG", "SET", "rdb-key-save-delay", "0")
            let third = try await DynokeeperBinary.run(["backup"], environment: environment)
            #expect(third.status == 0, "\(third.stderrText)")
        }
    }

    /// `redis.start` and the other commands get a minimal environment: never the store's keys or the API token.
    @Test func commandsDoNotInheritSecrets() async throws {
        let store = try TemporaryDirectory(prefix: "env-store")
        defer { store.remove() }
        try await withResource(ManagedRedis()) { redis in
            try await redis.start()
            _ = try await redis.cli(["SET", "k", "v"])
            let dump = redis.directory.file("start-environment")
            let environment: [String: String?] = [
                "DYNOKEEPER_REDIS_PORT": String(redis.port), "DYNOKEEPER_REDIS_CONF": redis.confPath,
                "DYNOKEEPER_REDIS_START": "env > \(dump); \(redis.startCommand)",
                "DYNOKEEPER_REDIS_STOP": redis.stopCommand,
                "DYNOKEEPER_RESTORE_ENABLED": "true", "DYNOKEEPER_STORAGE_URL": store.path,
                "DYNOKEEPER_SERVER_TOKEN": "secret-token-0123456789", "AWS_SECRET_ACCESS_KEY": "aws-secret-value",
                "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "WANTED_BY_THE_SCRIPT": "passed",
                "DYNOKEEPER_NODE_COMMAND_ENVIRONMENT": "WANTED_BY_THE_SCRIPT",
            ]
            #expect(try await DynokeeperBinary.run(["backup"], environment: environment).status == 0)
            let restore = try await DynokeeperBinary.run(["restore"], environment: environment)
            #expect(restore.status == 0, "\(restore.stderrText)")
            let seen = try String(contentsOfFile: dump, encoding: .utf8)
            #expect(seen.contains("PATH="))
            #expect(seen.contains("WANTED_BY_THE_SCRIPT=passed"))
            for secret in ["secret-token-0123456789", "aws-secret-value", "AKIAEXAMPLE", "DYNOKEEPER_"] {
                #expect(!seen.contains(secret), "\(secret) reached redis.start")
            }
        }
    }
}

/// The Redis ACL the README gives for dynokeeper's user is enough for a backup and a restore.
@Suite(.tags(.integration, .process)) struct RedisACLTests {
    @Test func theDocumentedACLIsEnough() async throws {
        let store = try TemporaryDirectory(prefix: "acl-store")
        defer { store.remove() }
        let user = "user dynokeeper on >dk-password-123 -@all +info +config|get +bgsave +bgrewriteaof +shutdown"
        try await withResource(ManagedRedis(extra: [user])) { redis in
            try await redis.start()
            try "dk-password-123\n".write(toFile: store.file("password"), atomically: false, encoding: .utf8)
            try await RedisDataset.populateAllTypes(redis, tag: "acl")
            let environment: [String: String?] = [
                "DYNOKEEPER_REDIS_PORT": String(redis.port), "DYNOKEEPER_REDIS_CONF": redis.confPath,
                "DYNOKEEPER_REDIS_USER": "dynokeeper", "DYNOKEEPER_REDIS_PASSWORD_FILE": store.file("password"),
                "DYNOKEEPER_REDIS_START": redis.startCommand, "DYNOKEEPER_RESTORE_ENABLED": "true",
                "DYNOKEEPER_STORAGE_URL": store.file("backups"),
            ]
            let backup = try await DynokeeperBinary.run(["backup"], environment: environment)
            #expect(backup.status == 0, "\(backup.stderrText)")
            let before = try await RedisContent.read(port: redis.port)
            _ = try await redis.cli(["FLUSHALL"])
            // No redis.stop: the restore stops Redis with SHUTDOWN NOSAVE as the ACL user.
            let restore = try await DynokeeperBinary.run(["restore"], environment: environment)
            #expect(restore.status == 0, "\(restore.stderrText)")
            #expect(try await RedisContent.read(port: redis.port) == before)
        }
    }
}
