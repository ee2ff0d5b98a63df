import DynokeeperTestSupport
import Foundation
import Testing

/// `dynokeeper backup` and `dynokeeper snapshots` as an operator runs them.
@Suite struct BackupCommandTests {
    @Test func backupThenListToS3() async throws {
        let server = try await SeaweedFS.shared()
        let bucket = try await server.makeBucket("cli-backup")
        let redis = try await RedisServer.start()
        defer { Task { await redis.stopAndRemove() } }
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
        #expect(lines.count == 2)
        #expect(lines.last?.hasPrefix("\(id)  cli-cluster/dc1/rack-a/42  rdb") == true)

        let json = try await DynokeeperBinary.run(["snapshots", "--json", "--all-nodes"], environment: environment)
        #expect(json.status == 0)
        let object = try JSONSerialization.jsonObject(with: Data(json.stdoutText.split(separator: "\n")[0].utf8)) as? [String: Any]
        #expect(object?["id"] as? String == id)
        #expect(object?["keys"] as? Int == 351)
        #expect(object?["tokens"] as? String == "42")

        let otherCluster = try await DynokeeperBinary.run(["snapshots", "--cluster", "nothing-here"], environment: environment)
        #expect(otherCluster.stdoutText.contains("(no complete snapshots)"))
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
        let redis = try await RedisServer.start()
        defer { Task { await redis.stopAndRemove(); folder.remove() } }
        let result = try await DynokeeperBinary.run(
            ["backup", "--log-format", "json"], environment: ["DYNOKEEPER_REDIS_PORT": String(redis.port)], in: folder.path)
        #expect(result.status == 0, "\(result.stderrText)")
        let lines = result.stderrText.split(separator: "\n")
        #expect(!lines.isEmpty)
        for line in lines {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object?["level"] != nil && object?["message"] != nil, "\(line)")
        }
    }
}
