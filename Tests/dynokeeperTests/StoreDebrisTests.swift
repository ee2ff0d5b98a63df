import DynokeeperEngine
import DynokeeperTestSupport
import Foundation
import Testing

/// A backup killed in the middle of its upload leaves a multipart upload behind and no manifest; `gc` removes
/// it, and the next backup and a restore work.
@Suite(.tags(.integration, .process)) struct StoreDebrisTests {
    @Test func aBackupKilledDuringItsUploadIsCleanedUpByGC() async throws {
        let server = try await SeaweedFS.shared()
        let bucket = try await server.makeBucket("debris")
        // A slow link, so that the upload is still under way when the backup is killed.
        try await withResource(FaultProxy.start(upstream: server.endpoint, faults: .init(latencyMilliseconds: 400))) {
            proxy in
            try await withResource(ManagedRedis()) { redis in
                try await redis.start()
                try await RedisDataset.populateRandom(redis, count: 30_000, size: 1000)
                let slow: [String: String?] = [
                    "DYNOKEEPER_REDIS_PORT": String(redis.port), "DYNOKEEPER_REDIS_CONF": redis.confPath,
                    "DYNOKEEPER_REDIS_START": redis.startCommand, "DYNOKEEPER_REDIS_STOP": redis.stopCommand,
                    "DYNOKEEPER_RESTORE_ENABLED": "true", "DYNOKEEPER_STORAGE_URL": "s3://\(bucket)/debris",
                    "DYNOKEEPER_STORAGE_ENDPOINT": proxy.endpoint, "DYNOKEEPER_STORAGE_PART_SIZE_MB": "5",
                    "DYNOKEEPER_STORAGE_CONCURRENCY": "1", "AWS_ACCESS_KEY_ID": server.accessKey,
                    "AWS_SECRET_ACCESS_KEY": server.secretKey, "AWS_EC2_METADATA_DISABLED": "true",
                ]
                let backup = try BackgroundProcess(
                    try DynokeeperBinary.path, ["backup"], logPath: redis.directory.file("backup.log"),
                    environment: DynokeeperBinary.cleanEnvironment(slow))
                let uploads = { () async throws -> String in
                    try await server.awsCheck([
                        "s3api", "list-multipart-uploads", "--bucket", bucket, "--prefix", "debris/",
                    ]).stdoutText
                }
                // The backup is held (SIGSTOP) while the store is listed, so that it cannot finish its upload between
                // the listing that shows it and the kill (a busy machine can make either take seconds).
                try await backup.waitUntil("a multipart upload", timeout: .seconds(60)) {
                    kill(backup.pid, SIGSTOP)
                    if ((try? await uploads()) ?? "").contains("UploadId") { return true }
                    kill(backup.pid, SIGCONT)
                    return false
                }
                kill(backup.pid, SIGKILL)
                await backup.stop()
                #expect(try await uploads().contains("UploadId"), "the killed backup's upload is left behind")
                // The rest goes straight to the store.
                let environment = slow.merging([
                    "DYNOKEEPER_STORAGE_ENDPOINT": server.endpoint, "DYNOKEEPER_STORAGE_CONCURRENCY": "4",
                ]) { $1 }
                let listed = try await DynokeeperBinary.run(["snapshots"], environment: environment)
                #expect(listed.stdoutText.contains("no complete snapshots"), "\(listed.stdoutText)")

                let dry = try await DynokeeperBinary.run(
                    ["gc", "--older-than", "0s", "--dry-run"], environment: environment)
                #expect(dry.status == 0, "\(dry.stderrText)")
                #expect(
                    dry.stdoutText.contains("would abort incomplete upload dynomite/dc1/rack1/0/"), "\(dry.stdoutText)")
                #expect(try await uploads().contains("UploadId"))
                let gc = try await DynokeeperBinary.run(["gc", "--older-than", "0s"], environment: environment)
                #expect(gc.status == 0, "\(gc.stderrText)")
                #expect(gc.stdoutText.contains("aborted incomplete upload"))
                #expect(!(try await uploads().contains("UploadId")), "no upload left, as awscli sees it")

                let before = try await RedisContent.read(port: redis.port)
                let again = try await DynokeeperBinary.run(["backup"], environment: environment)
                #expect(again.status == 0, "\(again.stderrText)")
                _ = try await redis.cli(["FLUSHALL"])
                _ = try await redis.cli(["SET", "own", "data"])
                let own = try await RedisContent.read(port: redis.port)

                // A restore killed while it downloads (over the slow link) has touched nothing: the node serves its own
                // data, the next command cleans up after it, and a restore then works.
                let restoring = try BackgroundProcess(
                    try DynokeeperBinary.path, ["restore"], logPath: redis.directory.file("restore.log"),
                    environment: DynokeeperBinary.cleanEnvironment(slow))
                let incoming = redis.dataPath + "/.dynokeeper-restore/incoming/dump.rdb"
                try await restoring.waitUntil("the download to be under way", timeout: .seconds(60)) {
                    kill(restoring.pid, SIGSTOP)  // held while looked at, as the backup above
                    if ((try? FileManager.default.attributesOfItem(atPath: incoming)[.size] as? Int) ?? 0) > 0 {
                        return true
                    }
                    kill(restoring.pid, SIGCONT)
                    return false
                }
                kill(restoring.pid, SIGKILL)
                await restoring.stop()
                #expect(try await RedisContent.read(port: redis.port) == own)
                #expect(
                    try await DynokeeperBinary.run(["gc", "--older-than", "0s"], environment: environment).status == 0)
                let status = try await DynokeeperBinary.run(["status"], environment: environment)
                #expect(
                    status.status == 0 && status.stdoutText.contains("unfinished restore: none"), "\(status.stdoutText)"
                )
                #expect(!FileManager.default.fileExists(atPath: incoming))
                // --json prints the document GET /v1/status answers, without the daemon's jobs.
                let document = try await DynokeeperBinary.run(["status", "--json"], environment: environment)
                let parsed = try APIJSON.decoder.decode(NodeStatus.self, from: Data(document.stdoutText.utf8))
                #expect(parsed.contract == NodeStatus.currentContract && parsed.redis.up && parsed.redis.version != nil)
                #expect(parsed.unfinishedRestore == nil && parsed.nodeOperation == nil && parsed.startedAt == nil)
                #expect(parsed.redis.address == "127.0.0.1:\(redis.port)" && parsed.restoresEnabled)
                let restore = try await DynokeeperBinary.run(["restore"], environment: environment)
                #expect(restore.status == 0, "\(restore.stderrText)")
                #expect(try await RedisContent.read(port: redis.port) == before)
            }
        }
    }
}

/// Backups and restores as users run them, through a store that misbehaves in every way at once, and one that
/// is dead.
@Suite(.tags(.integration, .process)) struct FaultyStoreCommandTests {
    static func environment(
        _ redis: ManagedRedis, bucket: String, endpoint: String, server: SeaweedFS
    ) -> [String: String?] {
        [
            "DYNOKEEPER_REDIS_PORT": String(redis.port), "DYNOKEEPER_REDIS_CONF": redis.confPath,
            "DYNOKEEPER_REDIS_START": redis.startCommand, "DYNOKEEPER_REDIS_STOP": redis.stopCommand,
            "DYNOKEEPER_RESTORE_ENABLED": "true", "DYNOKEEPER_STORAGE_URL": "s3://\(bucket)/faults",
            "DYNOKEEPER_STORAGE_ENDPOINT": endpoint, "DYNOKEEPER_STORAGE_PART_SIZE_MB": "5",
            "AWS_ACCESS_KEY_ID": server.accessKey, "AWS_SECRET_ACCESS_KEY": server.secretKey,
            "AWS_EC2_METADATA_DISABLED": "true",
        ]
    }

    @Test func fiftyMegabytesGoUpAndComeBackThroughEveryFault() async throws {
        let server = try await SeaweedFS.shared()
        let bucket = try await server.makeBucket("faults")
        try await withResource(FaultProxy.start(upstream: server.endpoint, faults: .mixed)) { proxy in
            try await withResource(ManagedRedis()) { redis in
                try await redis.start()
                // Random bytes: about 53 MB of RDB that zstd cannot shrink, so that 50 MB cross the proxy each way.
                try await RedisDataset.populateRandom(redis, count: 52_000, size: 1000, binary: true)
                let environment = Self.environment(redis, bucket: bucket, endpoint: proxy.endpoint, server: server)
                let before = try await RedisContent.read(port: redis.port)
                let digest = try await redis.cli(["DEBUG", "DIGEST"]).stdoutText
                let backup = try await DynokeeperBinary.run(
                    ["backup", "--log-level", "error"], environment: environment)
                #expect(backup.status == 0, "\(backup.stderrText)")
                _ = try await redis.cli(["FLUSHALL"])
                let restore = try await DynokeeperBinary.run(
                    ["restore", "--log-level", "error"], environment: environment)
                #expect(restore.status == 0, "\(restore.stderrText)")
                #expect(try await RedisContent.read(port: redis.port) == before)
                // Byte for byte: RedisContent reads values as text.
                #expect(try await redis.cli(["DEBUG", "DIGEST"]).stdoutText == digest)
                let listing = try await server.awsCheck(["s3", "ls", "--recursive", "s3://\(bucket)/"])
                let stored = listing.stdoutText.split(separator: "\n").filter { $0.hasSuffix("dump.rdb.zst") }
                    .compactMap { $0.split(separator: " ", omittingEmptySubsequences: true).dropFirst(2).first }
                    .compactMap { Int($0) }
                #expect(stored.count == 1 && stored[0] >= 50_000_000, "\(listing.stdoutText)")
                let injected = proxy.injected()
                for kind in ["slowdown", "reset", "cut_get", "cut_put"] {
                    #expect((injected[kind] ?? 0) > 0, "\(kind): \(injected)")
                }
            }
        }
    }

    @Test func aDeadStoreFailsTheBackupInBoundedTimeAndTheNodeServesOn() async throws {
        let server = try await SeaweedFS.shared()
        let bucket = try await server.makeBucket("dead")
        try await withResource(FaultProxy.start(upstream: server.endpoint, faults: .init(dead: true))) { proxy in
            try await withResource(ManagedRedis()) { redis in
                try await redis.start()
                try await RedisDataset.populateAllTypes(redis, tag: "dead")
                // The default bound: storage.give_up_after_seconds 120 (10 attempts come first).
                let environment = Self.environment(redis, bucket: bucket, endpoint: proxy.endpoint, server: server)
                let start = ContinuousClock.now
                let backup = try await DynokeeperBinary.run(["backup"], environment: environment)
                #expect(backup.status == 1)
                #expect(ContinuousClock.now - start < .seconds(150))
                #expect(backup.stderrText.contains("HTTP 500 Internal Server Error"), "\(backup.stderrText)")
                #expect(backup.stderrText.contains("gave up after"))
                let listing = try await server.awsCheck(["s3", "ls", "--recursive", "s3://\(bucket)/"])
                #expect(!listing.stdoutText.contains("manifest.json"))
                #expect(
                    try await redis.cli(["DBSIZE"]).stdoutText.trimmingCharacters(in: .whitespacesAndNewlines) == "341")
            }
        }
    }
}
