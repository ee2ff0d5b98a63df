import DynokeeperConfiguration
import DynokeeperServer
import DynokeeperTestSupport
import Foundation
import Logging
import NIOHTTP1
import Testing

/// Schedules fire on an injected clock; reloads change them; shutdown leaves nothing half done.
@Suite(.tags(.integration)) struct SchedulerTests {
    static func date(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }

    /// Waits (bounded, in real time) for a condition the daemon brings about.
    static func eventually(
        _ what: String, timeout: Duration = .seconds(60), _ condition: () async throws -> Bool
    ) async throws {
        let deadline = ContinuousClock.now + timeout
        while true {
            if try await condition() { return }
            guard ContinuousClock.now < deadline else { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("timed out waiting for \(what)")
    }

    static func jobs(_ daemon: TestDaemon) async throws -> [[String: Any]] {
        try await daemon.call(.GET, "/v1/jobs").json["jobs"] as? [[String: Any]] ?? []
    }

    @Test func aCronScheduleFiresWhenTheClockGetsThere() async throws {
        let clock = ManualClock(Self.date("2027-01-04T10:02:00Z"))
        try await withTestDaemon(backup: "enabled: true\n  schedule: \"*/5 * * * *\"", clock: clock) { daemon in
            // No snapshot yet: the missed run is caught up at start-up.
            try await Self.eventually("the catch-up backup") {
                try await Self.jobs(daemon).first?["state"] as? String == "succeeded"
            }
            #expect(try await Self.jobs(daemon).count == 1)
            #expect(try await Self.jobs(daemon).first?["trigger"] as? String == "schedule")
            try await Self.eventually("the scheduler to wait for 10:05") { clock.sleeping == 1 }
            let status = try await daemon.call(.GET, "/v1/status").json
            #expect(status["next_scheduled_backup"] as? String == "2027-01-04T10:05:00Z")
            #expect(try await Self.jobs(daemon).count == 1)

            clock.advance(to: Self.date("2027-01-04T10:05:00Z"))
            try await Self.eventually("the 10:05 backup") {
                let jobs = try await Self.jobs(daemon)
                return jobs.count == 2 && jobs.first?["state"] as? String == "succeeded"
            }
            try await Self.eventually("the scheduler to wait for 10:10") { clock.sleeping == 1 }
            #expect(
                try await daemon.call(.GET, "/v1/status").json["next_scheduled_backup"] as? String
                    == "2027-01-04T10:10:00Z")
            #expect((try await daemon.call(.GET, "/v1/snapshots").json["snapshots"] as? [Any])?.count == 2)
        }
    }

    /// `retention:` is applied after each scheduled backup that succeeds: only what the rules keep stays.
    @Test func retentionIsAppliedAfterEachScheduledBackup() async throws {
        let clock = ManualClock(Self.date("2027-01-04T10:02:00Z"))
        let backup = "enabled: true\n  schedule: \"*/5 * * * *\"\nretention:\n  keep_last: 1"
        try await withTestDaemon(backup: backup, clock: clock) { daemon in
            try await Self.eventually("the catch-up backup") {
                try await Self.jobs(daemon).first?["state"] as? String == "succeeded"
            }
            try await Self.eventually("the scheduler to wait for 10:05") { clock.sleeping == 1 }
            let first = try await daemon.call(.GET, "/v1/snapshots").json["snapshots"] as? [[String: Any]]
            #expect(first?.count == 1)
            clock.advance(to: Self.date("2027-01-04T10:05:00Z"))
            try await Self.eventually("the 10:05 backup") {
                let jobs = try await Self.jobs(daemon)
                return jobs.count == 2 && jobs.first?["state"] as? String == "succeeded"
            }
            try await Self.eventually("the scheduler to wait for 10:10") { clock.sleeping == 1 }
            let left = try await daemon.call(.GET, "/v1/snapshots").json["snapshots"] as? [[String: Any]]
            #expect(left?.count == 1, "\(String(describing: left))")
            #expect(left?.first?["id"] as? String != first?.first?["id"] as? String)
        }
    }

    /// `verify.schedule` verifies the newest snapshot (here with a restore drill), and the metrics say when a
    /// snapshot last verified.
    @Test func verificationRunsOnItsScheduleAndReachesTheMetrics() async throws {
        let clock = ManualClock(Self.date("2027-01-04T10:02:00Z"))
        let settings = "enabled: false\nverify:\n  schedule: \"*/5 * * * *\"\n  load: true"
        try await withTestDaemon(backup: settings, clock: clock) { daemon in
            _ = try await daemon.redis.cli(["MSET", "a", "1", "b", "2"])
            let backup = try await daemon.call(.POST, "/v1/backups", body: "{}")
            let done = try await daemon.waitForJob(try #require(backup.json["id"] as? String))
            #expect(done["state"] as? String == "succeeded")
            try await Self.eventually("the verification scheduler to wait for 10:05") { clock.sleeping == 1 }
            #expect(try await Self.lastVerified(daemon) == 0)
            clock.advance(to: Self.date("2027-01-04T10:05:00Z"))
            try await Self.eventually("the scheduled verification") {
                let jobs = try await Self.jobs(daemon)
                return jobs.first?["kind"] as? String == "verification" && jobs.first?["state"] as? String != "running"
            }
            let job = try #require(try await Self.jobs(daemon).first)
            #expect(job["state"] as? String == "succeeded", "\(job)")
            #expect(job["trigger"] as? String == "schedule")
            let reports = (job["result"] as? [String: Any])?["verifications"] as? [[String: Any]]
            #expect(reports?.count == 1)
            #expect((reports?.first?["loaded_keys"] as? [String: Any])?["db0"] as? Int == 2)
            #expect(try await Self.lastVerified(daemon) ?? 0 > 1_700_000_000)
        }
    }

    /// The value of `dynokeeper_last_verified_snapshot_timestamp_seconds`.
    static func lastVerified(_ daemon: TestDaemon) async throws -> Double? {
        let metrics = try await daemon.call(.GET, "/metrics").body
        let line = metrics.split(separator: "\n").first {
            $0.hasPrefix("dynokeeper_last_verified_snapshot_timestamp_seconds ")
        }
        return line.flatMap { Double($0.split(separator: " ").last ?? "") }
    }

    @Test func noCatchUpWhenTheNewestSnapshotIsRecentAndNothingWhenDisabled() async throws {
        let clock = ManualClock(Date())
        try await withTestDaemon(backup: "enabled: false", clock: clock) { daemon in
            let backup = try await daemon.call(.POST, "/v1/backups", body: "{}")
            _ = try await daemon.waitForJob(try #require(backup.json["id"] as? String))
            // Disabled: nothing is scheduled, and moving the clock a day does nothing.
            #expect(try await daemon.call(.GET, "/v1/status").json["next_scheduled_backup"] == nil)
            clock.advance(to: Date().addingTimeInterval(86_400))
            try await Task.sleep(for: .milliseconds(200))
            #expect(try await Self.jobs(daemon).count == 1)
        }
    }

    @Test func reloadTakesAGoodFileAndKeepsTheOldOneOnABadFile() async throws {
        let clock = ManualClock(Self.date("2027-01-04T10:02:00Z"))
        try await withTestDaemon(backup: "enabled: false", clock: clock) { daemon in
            let holder = daemon.daemon.node.holder
            let original = try String(contentsOfFile: daemon.configPath, encoding: .utf8)

            try (original + "\nnot_a_key: 1\n").write(toFile: daemon.configPath, atomically: false, encoding: .utf8)
            let error = await holder.reload()
            #expect("\(error.map { "\($0)" } ?? "")".contains("unknown configuration key not_a_key"))
            #expect(await holder.current.backup.enabled == false)
            #expect(await holder.version == 0)

            try original.replacingOccurrences(of: "enabled: false", with: "enabled: true\n  schedule: daily 23:30")
                .write(toFile: daemon.configPath, atomically: false, encoding: .utf8)
            #expect(await holder.reload() == nil)
            #expect(await holder.version == 1)
            let status = try await daemon.call(.GET, "/v1/status").json
            #expect(status["schedule"] as? String == "daily 23:30")
            #expect(status["backups_enabled"] as? Bool == true)
            #expect(status["next_scheduled_backup"] as? String == "2027-01-04T23:30:00Z")
        }
    }

    @Test func shutdownDuringABackupAbortsItCleanly() async throws {
        // A slow BGSAVE (0.1 s per key, 200 s in all): the backup is still running when the daemon is told to stop,
        // however long the other services take to stop first on a loaded machine (20 s was not enough in a
        // fresh-clone run).
        try await withTestDaemon(extra: ["rdb-key-save-delay 100000"]) { daemon in
            try await RedisDataset.populateRandom(daemon.redis, count: 2000, size: 16)
            let accepted = try await daemon.call(.POST, "/v1/backups", body: "{}")
            let id = try #require(accepted.json["id"] as? String)
            try await Self.eventually("the backup to reach BGSAVE") {
                try await daemon.call(.GET, "/v1/jobs/\(id)").json["step"] as? String == "BGSAVE"
            }
            await daemon.daemon.shutdown()
            try await daemon.task.value
            let job = try #require(await daemon.daemon.node.runner.job(id))
            #expect(job.state == .failed)
            #expect(job.error?.contains("cancelled") == true, "\(job.error ?? "")")
            // Nothing in the store looks like a complete snapshot (checked with awscli: the daemon's store is closed).
            let listing = try await SeaweedFS.shared().awsCheck(["s3", "ls", "--recursive", "s3://\(daemon.bucket)/"])
            #expect(!listing.stdoutText.contains("manifest.json"), "\(listing.stdoutText)")
        }
    }

    @Test func listeningBeyondLoopbackNeedsAToken() throws {
        let configuration = try DynokeeperConfiguration.parse(yaml: "server:\n  listen: 0.0.0.0:8080\n", path: "x")
        #expect(throws: ConfigurationError.self) {
            _ = try DynokeeperDaemon(
                configuration: configuration, path: nil, environment: [:], logger: Logger(label: "t"))
        }
        do {
            _ = try DynokeeperDaemon(
                configuration: configuration, path: nil, environment: [:], logger: Logger(label: "t"))
        } catch {
            #expect("\(error)".contains("set server.token or server.token_file"))
        }
    }
}
