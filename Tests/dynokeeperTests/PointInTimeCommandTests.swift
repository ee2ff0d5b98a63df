import DynokeeperTestSupport
import Foundation
import Testing

/// Point-in-time recovery as an operator uses it: `serve` with `pitr.enabled` archives, `pitr status` shows the
/// windows, and `restore --to-time` (and the API's `to_time`) bring the node back to a moment.
@Suite(.tags(.integration, .process)) struct PointInTimeCommandTests {
    static func curl(_ port: Int, _ path: String, _ arguments: [String] = []) async throws -> String {
        try await ProcessRunner.run(
            "curl", ["-s", "--max-time", "30"] + arguments + ["http://127.0.0.1:\(port)\(path)"], timeout: .seconds(60)
        ).stdoutText
    }

    static func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(text)")
    }

    static func moment(_ date: Date) -> String {
        date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true)) + "Z"
    }

    @Test func serveArchivesAndRestoreGoesBackToAMoment() async throws {
        let redis = try ManagedRedis(extra: ["repl-diskless-sync-delay 0"])
        let store = try TemporaryDirectory(prefix: "pitr-store")
        try await withResource(redis) { redis in
            defer { store.remove() }
            try await redis.start()
            try await RedisDataset.populateAllTypes(redis, tag: "pitr")
            let port = try FreePort.next()
            let environment: [String: String?] = [
                "DYNOKEEPER_REDIS_PORT": String(redis.port), "DYNOKEEPER_REDIS_CONF": redis.confPath,
                "DYNOKEEPER_REDIS_START": redis.startCommand, "DYNOKEEPER_REDIS_STOP": redis.stopCommand,
                "DYNOKEEPER_RESTORE_ENABLED": "true", "DYNOKEEPER_STORAGE_URL": store.path,
                "DYNOKEEPER_PITR_ENABLED": "true", "DYNOKEEPER_PITR_SEGMENT_SECONDS": "1",
                "DYNOKEEPER_SERVER_LISTEN": "127.0.0.1:\(port)", "DYNOKEEPER_LOG_LEVEL": "info",
            ]
            let serve = try BackgroundProcess(
                try DynokeeperBinary.path, ["serve"], logPath: store.file("serve.log"),
                environment: DynokeeperBinary.cleanEnvironment(environment), currentDirectory: store.path)
            try await withResource(serve) { serve in
                try await serve.waitUntil("the base snapshot", timeout: .seconds(60)) {
                    serve.logTail(lines: 100).contains("snapshot ") && serve.logTail(lines: 100).contains(" complete:")
                }
                // A moment whose state is known, then the corruption: a FLUSHALL.
                _ = try await redis.cli(["SET", "deploy", "good"])
                _ = try await redis.cli(["INCR", "orders"])
                try await Task.sleep(for: .milliseconds(100))
                let good = Date()
                let expected = try await RedisContent.read(port: redis.port)
                try await Task.sleep(for: .milliseconds(100))
                _ = try await redis.cli(["FLUSHALL"])
                _ = try await redis.cli(["SET", "deploy", "bad"])
                // Stored once the archive reaches past the flush.
                var status: [String: Any] = [:]
                for _ in 0..<100 {
                    status = try Self.json(try await Self.curl(port, "/v1/status"))
                    let pitr = status["pitr"] as? [String: Any]
                    if let until = pitr?["stored_until"] as? String,
                        until > Self.moment(Date().addingTimeInterval(-0.5))
                    {
                        break
                    }
                    try await Task.sleep(for: .milliseconds(100))
                }
                let pitr = try #require(status["pitr"] as? [String: Any], "\(status)")
                #expect(pitr["state"] as? String == "following" && (pitr["lag_seconds"] as? Double ?? 99) < 10)
                #expect(try await Self.curl(port, "/metrics").contains("dynokeeper_pitr_lag_seconds"))

                let report = try await DynokeeperBinary.run(["pitr", "status", "--json"], environment: environment)
                #expect(report.status == 0, "\(report.stderrText)")
                let windows = try #require(try Self.json(report.stdoutText)["windows"] as? [[String: Any]])
                #expect(windows.count == 1, "\(report.stdoutText)")
                let listing = try await DynokeeperBinary.run(["snapshots"], environment: environment)
                #expect(
                    listing.stdoutText.contains("point-in-time archive (restore --to-time): "), "\(listing.stdoutText)")

                // The CLI, to the moment before the flush.
                let restore = try await DynokeeperBinary.run(
                    ["restore", "--to-time", Self.moment(good)], environment: environment)
                #expect(restore.status == 0, "\(restore.stderrText)")
                #expect(restore.stdoutText.contains("replayed "), "\(restore.stdoutText)")
                #expect(try await RedisContent.read(port: redis.port) == expected)

                // A moment before anything was archived is refused, naming the windows; nothing is touched.
                let early = try await DynokeeperBinary.run(
                    ["restore", "--to-time", "2020-01-01T00:00:00Z"], environment: environment)
                #expect(
                    early.status != 0 && early.stderrText.contains("outside the archived stream"), "\(early.stderrText)"
                )
                #expect(try await RedisContent.read(port: redis.port) == expected)
                #expect(
                    try await DynokeeperBinary.run(
                        ["restore", "--to-time", Self.moment(good), "--date", "2026-11-20"], environment: environment
                    ).status != 0)

                // The API's to_time, after another scribble.
                _ = try await redis.cli(["FLUSHALL"])
                let started = try Self.json(
                    try await Self.curl(
                        port, "/v1/restores",
                        [
                            "-X", "POST", "-H", "Content-Type: application/json", "-d",
                            "{\"to_time\": \"\(Self.moment(good))\"}",
                        ]))
                let id = try #require(started["id"] as? String, "\(started)")
                var job: [String: Any] = [:]
                for _ in 0..<600 {
                    job = try Self.json(try await Self.curl(port, "/v1/jobs/\(id)"))
                    if job["state"] as? String != "running" { break }
                    try await Task.sleep(for: .milliseconds(100))
                }
                #expect(job["state"] as? String == "succeeded", "\(job)")
                #expect((job["parameters"] as? [String: Any])?["to_time"] != nil, "\(job)")
                #expect(try await RedisContent.read(port: redis.port) == expected)
                let both = try await Self.curl(
                    port, "/v1/restores",
                    [
                        "-X", "POST", "-H", "Content-Type: application/json", "-d",
                        "{\"to_time\": \"\(Self.moment(good))\", \"snapshot\": \"20261120T000000Z\"}",
                    ])
                #expect(both.contains("invalid_request"), "\(both)")
                // A moment the archive does not reach is refused at once (400), not as a failed job.
                let outside = try await ProcessRunner.run(
                    "curl",
                    [
                        "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "30", "-X", "POST", "-H",
                        "Content-Type: application/json", "-d", "{\"to_time\": \"2031-01-01T00:00:00Z\"}",
                        "http://127.0.0.1:\(port)/v1/restores",
                    ], timeout: .seconds(60)
                ).stdoutText
                #expect(outside == "400", "\(outside)")
                // Times keep their milliseconds in JSON (a window's ends, fed back, are reachable).
                let recorded = ((job["parameters"] as? [String: Any])?["to_time"] as? String).flatMap {
                    try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse($0)
                }
                #expect(recorded.map { abs($0.timeIntervalSince(good)) < 0.0015 } == true, "\(job)")
                await serve.stop()

                // Killed after any step (before the replay, after it), a point-in-time restore is finished by
                // --resume: the replay loads the base again with the commands, so doing it again is safe.
                let journalPath = redis.dataPath + "/.dynokeeper/restore-journal.json"
                var resumed = 0
                for killAt in 1...40 {
                    _ = try await redis.cli(["SET", "written", "after the restore"])
                    var killing = environment
                    killing["DYNOKEEPER_TEST_KILL_AT"] = String(killAt)
                    let killed = try await DynokeeperBinary.run(
                        ["restore", "--to-time", Self.moment(good)], environment: killing)
                    guard FileManager.default.fileExists(atPath: journalPath) else {
                        #expect(killed.status == 0, "\(killed.stderrText)")
                        break
                    }
                    let resume = try await DynokeeperBinary.run(["restore", "--resume"], environment: environment)
                    if resume.stderrText.contains("while fetching") { continue }  // before it touched the node
                    #expect(resume.status == 0, "kill point \(killAt): \(resume.stderrText)")
                    #expect(try await RedisContent.read(port: redis.port) == expected, "kill point \(killAt)")
                    resumed += 1
                }
                #expect(resumed >= 5, "only \(resumed) kill points")
                #expect(!FileManager.default.fileExists(atPath: journalPath))
            }
        }
    }
}
