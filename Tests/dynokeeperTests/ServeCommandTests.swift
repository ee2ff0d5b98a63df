import DynokeeperTestSupport
import Foundation
import Testing

/// `dynokeeper serve` as a process: signals, reloads, and `dynokeeper schedule`.
@Suite(.tags(.integration, .process)) struct ServeCommandTests {
    static func config(port: Int, schedule: String, redisPort: Int) -> String {
        """
        cluster: serve-test
        server:
          listen: 127.0.0.1:\(port)
        redis:
          port: \(redisPort)
        backup:
          enabled: true
          schedule: "\(schedule)"
        """
    }

    static func status(port: Int) async throws -> [String: Any] {
        let result = try await ProcessRunner.run(
            "curl", ["-s", "--max-time", "10", "http://127.0.0.1:\(port)/v1/status"])
        return (try? JSONSerialization.jsonObject(with: result.stdout)) as? [String: Any] ?? [:]
    }

    @Test func sighupReloadsAndKeepsTheOldConfigurationOnABadFileAndSigtermStops() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        try await withResource(RedisServer.start()) { redis in
            let port = try FreePort.next()
            let path = folder.file("dynokeeper.yml")
            try Self.config(port: port, schedule: "0 3 * * *", redisPort: redis.port).write(
                toFile: path, atomically: false, encoding: .utf8)
            // Plenty of room before the first run: the schedule's next run is hours away, and the catch-up runs once.
            let serve = try BackgroundProcess(
                try DynokeeperBinary.path, ["serve", "--config", path], logPath: folder.file("serve.log"),
                currentDirectory: folder.path)
            try await serve.waitUntil("the API", timeout: .seconds(60)) { FreePort.isListening(port) }
            #expect(try await Self.status(port: port)["schedule"] as? String == "0 3 * * *")

            try "cluster: serve-test\nbackup:\n  schedule: every now and then\n".write(
                toFile: path, atomically: false, encoding: .utf8)
            kill(serve.pid, SIGHUP)
            try await serve.waitUntil("the rejected reload in the log", timeout: .seconds(20)) {
                serve.logTail(lines: 200).contains("configuration reload rejected, keeping the previous one")
            }
            #expect(try await Self.status(port: port)["schedule"] as? String == "0 3 * * *")

            // A file that is not YAML, with a token in it: the log names the place, never the token.
            let secret = "reload-secret-token-0123456789"
            try "cluster: serve-test\nserver:\n  token: \(secret)\n  listen: [127.0.0.1\n".write(
                toFile: path, atomically: false, encoding: .utf8)
            kill(serve.pid, SIGHUP)
            try await serve.waitUntil("the second rejected reload in the log", timeout: .seconds(20)) {
                serve.logTail(lines: 200).contains("is not valid YAML")
            }
            #expect(!serve.logTail(lines: 400).contains(secret))

            try Self.config(port: port, schedule: "daily 04:30", redisPort: redis.port).write(
                toFile: path, atomically: false, encoding: .utf8)
            kill(serve.pid, SIGHUP)
            var schedule: String?
            for _ in 0..<200 {
                schedule = try await Self.status(port: port)["schedule"] as? String
                if schedule == "daily 04:30" { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(schedule == "daily 04:30")

            kill(serve.pid, SIGTERM)
            try await serve.waitUntil("dynokeeper to exit", timeout: .seconds(30)) { !serve.isRunning }
            #expect(serve.logTail(lines: 200).contains("dynokeeper stopped"))
            #expect(!FreePort.isListening(port))
        }
    }

    @Test func sigtermStopsADaemonWhoseBackupsAreOff() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let port = try FreePort.next()
        let serve = try BackgroundProcess(
            try DynokeeperBinary.path, ["serve"], logPath: folder.file("serve.log"),
            environment: ["DYNOKEEPER_SERVER_LISTEN": "127.0.0.1:\(port)"], currentDirectory: folder.path)
        try await serve.waitUntil("the API", timeout: .seconds(60)) { FreePort.isListening(port) }
        kill(serve.pid, SIGTERM)
        try await serve.waitUntil("dynokeeper to exit", timeout: .seconds(30)) { !serve.isRunning }
        #expect(serve.logTail(lines: 50).contains("dynokeeper stopped"))
    }

    /// LZF that a streamed backup killed in its moment left off (its marker in the state folder names this Redis
    /// process) is back on once `serve` starts, without waiting for a backup.
    @Test func serveTurnsBackOnTheLZFAStoppedBackupLeftOff() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        try await withResource(RedisServer.start()) { redis in
            let port = try FreePort.next()
            let state = folder.file("state")
            try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
            let runID = try #require(try await redis.runID())
            try "left by a killed backup\nrun_id \(runID)\n".write(
                toFile: state + "/rdbcompression-off", atomically: true, encoding: .utf8)
            _ = try await redis.cli(["CONFIG", "SET", "rdbcompression", "no"])
            try await withResource(
                DynokeeperBinary.serve(
                    config:
                        "cluster: serve-test\nserver:\n  listen: 127.0.0.1:\(port)\nredis:\n  port: \(redis.port)\nnode:\n  state_dir: \(state)\n",
                    port: port, folder: folder)
            ) { serve in
                try await serve.waitUntil("rdbcompression back on", timeout: .seconds(30)) {
                    serve.logTail(lines: 100).contains("turned Redis's rdbcompression back on")
                }
                #expect(try await redis.cli(["CONFIG", "GET", "rdbcompression"]).stdoutText.contains("yes"))
                #expect(!FileManager.default.fileExists(atPath: state + "/rdbcompression-off"))
            }
        }
    }

    @Test func scheduleListsTheNextRuns() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let result = try await DynokeeperBinary.run(
            ["schedule", "--count", "3"],
            environment: ["DYNOKEEPER_BACKUP_SCHEDULE": "0 */6 * * *", "DYNOKEEPER_BACKUP_ENABLED": "true"],
            in: folder.path)
        #expect(result.status == 0, "\(result.stderrText)")
        let lines = result.stdoutText.split(separator: "\n").map(String.init)
        #expect(lines.first == "schedule: 0 */6 * * * (UTC)")
        #expect(lines.count == 4)
        let times = lines.dropFirst().compactMap { ISO8601DateFormatter().date(from: $0) }
        #expect(times.count == 3)
        #expect(zip(times, times.dropFirst()).allSatisfy { $1.timeIntervalSince($0) == 6 * 3600 })
        #expect(
            times.allSatisfy {
                Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: $0).hour! % 6
                    == 0
            })

        let off = try await DynokeeperBinary.run(["schedule"], in: folder.path)
        #expect(off.stdoutText.contains("scheduled backups are off (backup.enabled: false)"))
    }
}
