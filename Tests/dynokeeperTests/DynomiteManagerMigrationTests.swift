import DynokeeperTestSupport
import Foundation
import Testing

/// A Dynomite-manager node's own objects in S3, laid out byte for byte as it wrote them (by awscli, an independent
/// client), under a base_dir given with slashes around it, as its properties name them.
@Suite(.tags(.integration, .process)) struct DynomiteManagerMigrationTests {
    enum Persistence: String, CaseIterable, Sendable { case rdb, aof }

    /// Dynomite-manager's key: `<base_dir>/<dc>/<rack>/<token>/<epoch ms of the day's midnight>`, joined with `/` as
    /// given, so `/dmbase/` makes `/dmbase//dc1/…`.
    static func key(day: String) -> String {
        let midnight = ISO8601DateFormatter().date(from: day + "T00:00:00Z")!
        return "/dmbase//dc1/rack1/0/\(Int64(midnight.timeIntervalSince1970 * 1000))"
    }

    /// Restored from the day's object: an RDB, or an AOF as Redis before 7 wrote it (one file, an RDB preamble then
    /// commands), into a Redis 7 whose own AOF is multi-part.
    @Test(arguments: Persistence.allCases)
    func theDaysObjectUnderASlashedBaseDirIsListedAndRestored(persistence: Persistence) async throws {
        let server = try await SeaweedFS.shared()
        let bucket = try await server.makeBucket("dm-migration")
        try await withResource(ManagedRedis(appendOnly: persistence == .aof)) { redis in
            try await redis.start()
            _ = try await redis.cli(["SET", "greeting", "from-dynomite-manager"])
            _ = try await redis.cli(["SAVE"])
            var object = try Data(contentsOf: URL(fileURLWithPath: redis.dataPath + "/dump.rdb"))
            if persistence == .aof {
                object.append(Data("*3\r\n$3\r\nSET\r\n$5\r\nafter\r\n$8\r\npreamble\r\n".utf8))
            }
            let objectFile = redis.directory.file("dm-object")
            try object.write(to: URL(fileURLWithPath: objectFile))
            let key = Self.key(day: "2026-11-20")
            try await server.awsCheck(["s3api", "put-object", "--bucket", bucket, "--key", key, "--body", objectFile])
            _ = try await redis.cli(["SET", "greeting", "written-later"])

            // Dynomite-manager's v2 names, as environment variables: bucket, base_dir, persistence type.
            let environment: [String: String?] = [
                "DYNOKEEPER_REDIS_PORT": String(redis.port), "DYNOKEEPER_REDIS_CONF": redis.confPath,
                "DYNOKEEPER_REDIS_START": redis.startCommand, "DYNOKEEPER_REDIS_STOP": redis.stopCommand,
                "DYNOKEEPER_RESTORE_ENABLED": "true", "DYNOKEEPER_STORAGE_ENDPOINT": server.endpoint,
                "DBSIDECAR_AWS_DYNO_BACKUP_BUCKET_NAME": bucket, "DBSIDECAR_AWS_DYNO_BACKUP_S3_BASE_DIR": "/dmbase/",
                "FLORIDA_DYNO_PERSISTENCE_TYPE": persistence.rawValue,
                "AWS_ACCESS_KEY_ID": server.accessKey, "AWS_SECRET_ACCESS_KEY": server.secretKey,
                "AWS_EC2_METADATA_DISABLED": "true", "DYNOKEEPER_LOG_LEVEL": "warning",
            ]
            // An object dated in the future (a JVM with a fast clock): listed as such, never restored.
            try await server.awsCheck([
                "s3api", "put-object", "--bucket", bucket, "--key", Self.key(day: "2099-01-01"), "--body", objectFile,
            ])
            let listed = try await DynokeeperBinary.run(
                ["snapshots", "--format", "dynomite-manager"], environment: environment)
            #expect(listed.status == 0, "\(listed.stderrText)")
            #expect(listed.stdoutText.contains("20261120T000000Z"), "\(listed.stdoutText)")
            #expect(listed.stdoutText.contains("2 Dynomite-manager object(s)"), "\(listed.stdoutText)")
            #expect(
                listed.stdoutText.split(separator: "\n").contains {
                    $0.hasPrefix("20990101T000000Z") && $0.contains("in the future")
                }, "\(listed.stdoutText)")

            // `--format auto` says what restore.format's default says.
            let restored = try await DynokeeperBinary.run(
                ["restore", "--date", "2026-11-21", "--no-safety-save"]
                    + (persistence == .aof ? ["--format", "auto"] : []),
                environment: environment)
            #expect(restored.status == 0, "\(restored.stderrText)")
            #expect(restored.stdoutText.contains("Dynomite-manager"), "\(restored.stdoutText)")
            #expect(try await redis.cli(["GET", "greeting"]).stdoutText == "from-dynomite-manager\n")
            if persistence == .aof {
                #expect(try await redis.cli(["GET", "after"]).stdoutText == "preamble\n")
                #expect(try await redis.cli(["CONFIG", "GET", "appendonly"]).stdoutText.contains("yes"))
            }
            // The object is untouched: byte for byte what Dynomite-manager wrote.
            let back = redis.directory.file("dm-object-back")
            try await server.awsCheck(["s3api", "get-object", "--bucket", bucket, "--key", key, back])
            #expect(try Data(contentsOf: URL(fileURLWithPath: back)) == object)

            // backup.format: dynomite-manager writes the day's object under the same base_dir, as Dynomite-manager
            // would (the RDB, uncompressed): read back by awscli under Dynomite-manager's key.
            guard persistence == .rdb else { return }
            var writing = environment
            writing["DYNOKEEPER_BACKUP_FORMAT"] = "dynomite-manager"
            let backup = try await DynokeeperBinary.run(["backup"], environment: writing)
            #expect(backup.status == 0, "\(backup.stderrText)")
            let today = String(ISO8601DateFormatter().string(from: Date()).prefix(10))
            let written = redis.directory.file("dm-written")
            try await server.awsCheck(
                ["s3api", "get-object", "--bucket", bucket, "--key", Self.key(day: today), written])
            let dump = try Data(contentsOf: URL(fileURLWithPath: redis.dataPath + "/dump.rdb"))
            #expect(try Data(contentsOf: URL(fileURLWithPath: written)) == dump)
        }
    }

    /// A node of a new cluster that fills itself at start-up from Dynomite-manager's objects, as Dynomite-manager's v2
    /// properties asked (restore.enabled and restore.date), from a JVM that ran in Los Angeles: its objects are named by
    /// Los Angeles midnights, and the day is read there (restore.timezone).
    @Test func aNewNodeFillsItselfAtStartUpFromTheDaysObjectOfItsTimeZone() async throws {
        let server = try await SeaweedFS.shared()
        let bucket = try await server.makeBucket("dm-on-start")
        try await withResource(ManagedRedis()) { redis in
            try await redis.start()
            let losAngeles = try #require(TimeZone(identifier: "America/Los_Angeles"))
            // Two days' objects, each the RDB of that day's data.
            for (day, value) in [("2026-11-19", "the-19th"), ("2026-11-20", "the-20th")] {
                _ = try await redis.cli(["SET", "greeting", value])
                _ = try await redis.cli(["SAVE"])
                var calendar = Calendar(identifier: .gregorian)
                calendar.timeZone = losAngeles
                let parts = day.split(separator: "-").compactMap { Int($0) }
                let midnight = try #require(
                    calendar.date(from: DateComponents(year: parts[0], month: parts[1], day: parts[2])))
                let key = "dmbase/dc1/rack1/0/\(Int64(midnight.timeIntervalSince1970 * 1000))"
                try await server.awsCheck([
                    "s3api", "put-object", "--bucket", bucket, "--key", key, "--body", redis.dataPath + "/dump.rdb",
                ])
            }
            // A new node: empty.
            _ = try await redis.cli(["FLUSHALL"])
            let folder = try TemporaryDirectory(prefix: "dm-on-start")
            defer { folder.remove() }
            let environment: [String: String?] = [
                "DYNOKEEPER_REDIS_PORT": String(redis.port), "DYNOKEEPER_REDIS_CONF": redis.confPath,
                "DYNOKEEPER_REDIS_START": redis.startCommand, "DYNOKEEPER_REDIS_STOP": redis.stopCommand,
                "DYNOKEEPER_STORAGE_ENDPOINT": server.endpoint, "DYNOKEEPER_RESTORE_TIMEZONE": "America/Los_Angeles",
                "DBSIDECAR_AWS_DYNO_BACKUP_BUCKET_NAME": bucket, "DBSIDECAR_AWS_DYNO_BACKUP_S3_BASE_DIR": "dmbase",
                "DBSIDECAR_COMMON_DYNO_BACKUP_RESTORE_ENABLED": "true",
                "DBSIDECAR_COMMON_DYNO_BACKUP_RESTORE_DATE": "20261120", "FLORIDA_DYNO_PERSISTENCE_TYPE": "rdb",
                "DYNOKEEPER_SERVER_LISTEN": "127.0.0.1:\(try FreePort.next())", "DYNOKEEPER_LOG_LEVEL": "info",
                "DYNOKEEPER_NODE_STATE_DIR": folder.file("state"),
                "AWS_ACCESS_KEY_ID": server.accessKey, "AWS_SECRET_ACCESS_KEY": server.secretKey,
                "AWS_EC2_METADATA_DISABLED": "true",
            ]
            let serve = try BackgroundProcess(
                try DynokeeperBinary.path, ["serve"], logPath: folder.file("serve.log"),
                environment: DynokeeperBinary.cleanEnvironment(environment), currentDirectory: folder.path)
            try await serve.waitUntil("the restore at start-up", timeout: .seconds(120)) {
                serve.logTail(lines: 200).contains("restore.on_start: ")
            }
            let log = serve.logTail(lines: 200)
            await serve.stop()
            #expect(log.contains("restore.on_start: restored snapshot 20261120T080000Z"), "\(log)")
            #expect(try await redis.cli(["GET", "greeting"]).stdoutText == "the-20th\n")
        }
    }
}
