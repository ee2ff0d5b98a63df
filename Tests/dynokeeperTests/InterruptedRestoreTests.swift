import DynokeeperTestSupport
import Foundation
import Testing

/// A restore killed (kill -9, through the `DYNOKEEPER_TEST_KILL_AT` hook) right after each of its journal writes,
/// that is at every step boundary, its rollback included; then seen by `status` and the daemon, refused as a
/// base for backups, and finished or undone from the CLI and from the API. Whatever the point, the node ends up
/// with exactly the snapshot's data or exactly its own, with Redis and Dynomite running and nothing left behind.
@Suite(.tags(.integration, .process)) struct InterruptedRestoreTests {
    final class Node: Sendable {
        let redis: ManagedRedis
        let dynomite: StandInDynomite
        let store: TemporaryDirectory
        let folder: TemporaryDirectory
        let configPath: String
        let apiPort: Int
        let serve: BackgroundProcess
        let failOnce: String

        init(failingStart: Bool, method: String = "files") async throws {
            redis = try ManagedRedis()
            try await redis.start()
            dynomite = try StandInDynomite(redisPort: redis.port, events: redis.eventsPath)
            try await dynomite.start()
            store = try TemporaryDirectory(prefix: "interrupted-store")
            folder = try TemporaryDirectory(prefix: "interrupted")
            failOnce = folder.file("fail-once")
            apiPort = try FreePort.next()
            configPath = folder.file("dynokeeper.yml")
            // With failingStart, redis.start fails while the marker file is there (and removes it): the restore's
            // start fails and its rollback's start works.
            // Redis and Dynomite start without the file size limit a test may put on dynokeeper.
            let start =
                "ulimit -S -f unlimited; "
                + (failingStart
                    ? "if [ -f \(failOnce) ]; then rm \(failOnce); echo refusing >&2; exit 3; fi; \(redis.startCommand)"
                    : redis.startCommand)
            try """
            cluster: interrupted
            node:
              dynomite_yaml: \(try dynomite.dynomiteYAML(redisPort: redis.port))
            redis:
              port: \(redis.port)
              conf: \(redis.confPath)
              start: "\(start)"
              stop: "\(redis.stopCommand)"
            dynomite:
              start: "ulimit -S -f unlimited; \(dynomite.startCommand)"
              stop: "\(dynomite.stopCommand)"
            storage:
              url: \(store.path)
            restore:
              enabled: true
              method: \(method)
            server:
              listen: 127.0.0.1:\(apiPort)
            log:
              level: warning
            """.write(toFile: configPath, atomically: false, encoding: .utf8)
            serve = try BackgroundProcess(
                try DynokeeperBinary.path, ["serve", "--config", configPath], logPath: folder.file("serve.log"),
                environment: DynokeeperBinary.cleanEnvironment([:]))
            let port = apiPort
            try await serve.waitUntil("the API", timeout: .seconds(60)) { FreePort.isListening(port) }
        }

        func cli(_ arguments: [String], killAt: Int? = nil) async throws -> ProcessResult {
            try await DynokeeperBinary.run(
                arguments + ["--config", configPath], environment: ["DYNOKEEPER_TEST_KILL_AT": killAt.map(String.init)])
        }

        func api(
            _ method: String, _ path: String, body: String? = nil
        ) async throws -> (status: Int, json: [String: Any], text: String) {
            var arguments = [
                "-s", "--max-time", "120", "-o", "-", "-w", "\n%{http_code}", "-X", method,
                "http://127.0.0.1:\(apiPort)\(path)",
            ]
            if method != "GET" { arguments += ["-H", "Content-Type: application/json"] }
            if let body { arguments += ["-d", body] }
            let result = try await ProcessRunner.run("curl", arguments)
            let lines = result.stdoutText.split(separator: "\n", omittingEmptySubsequences: false)
            let text = lines.dropLast().joined(separator: "\n")
            let json = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
            return (Int(lines.last ?? "") ?? 0, json, text)
        }

        /// Runs a job through the API (resume or rollback) and waits for it.
        func apiJob(_ path: String) async throws -> [String: Any] {
            let accepted = try await api("POST", path)
            guard accepted.status == 202, let id = accepted.json["id"] as? String else {
                throw TestSupportError("\(path): \(accepted.status) \(accepted.text)")
            }
            for _ in 0..<1200 {
                let job = try await api("GET", "/v1/jobs/\(id)").json
                if let state = job["state"] as? String, state != "running" { return job }
                try await Task.sleep(for: .milliseconds(50))
            }
            throw TestSupportError("job \(id) did not finish")
        }

        func content() async throws -> RedisContent { try await RedisContent.read(port: redis.port) }

        func close() async {
            await serve.stop()
            await dynomite.stopAndRemove()
            await redis.stopAndRemove()
            store.remove()
            folder.remove()
        }
    }

    enum Recovery: CaseIterable {
        case cliResume, cliRollback, apiResume, apiRollback
    }

    /// How a recovery ended: with the snapshot's data, or with the node's own.
    enum Outcome { case restored, rolledBack }

    @Test(arguments: [(false, "files"), (true, "files"), (false, "online")])
    func aRestoreKilledAfterAnyJournalWriteIsFoundAndRecovered(failingStart: Bool, method: String) async throws {
        try await withResource(Node(failingStart: failingStart, method: method)) { node in
            try await RedisDataset.populateAllTypes(node.redis, tag: "snapshot")
            let backup = try await node.cli(["backup"])
            #expect(backup.status == 0, "\(backup.stderrText)")
            let snapshot = try await node.content()

            var interrupted = 0
            for killAt in 1...40 {
                // The node's own data, different from the snapshot's.
                _ = try await node.redis.cli(["FLUSHALL"])
                try await RedisDataset.populateAllTypes(node.redis, tag: "own-\(killAt)")
                let own = try await node.content()
                if failingStart { FileManager.default.createFile(atPath: node.failOnce, contents: nil) }

                let run = try await node.cli(["restore"], killAt: killAt)
                guard run.status == 137 else {
                    // Fewer journal writes than killAt: the restore ran to its end.
                    if failingStart {
                        #expect(run.status == 1 && run.stderrText.contains("Rolled back"), "\(run.stderrText)")
                        #expect(try await node.content() == own)
                    } else {
                        #expect(run.status == 0, "\(run.stderrText)")
                        #expect(try await node.content() == snapshot)
                    }
                    break
                }
                interrupted += 1
                let recovery = Recovery.allCases[killAt % Recovery.allCases.count]
                let context = "killed after journal write \(killAt), recovered by \(recovery)"

                let status = try await node.cli(["status"])
                if status.status == 0 {
                    // Killed before it touched the node: cleaned up by itself, and the node is as it was.
                    #expect(status.stdoutText.contains("unfinished restore: none"), "\(context): \(status.stdoutText)")
                    #expect(try await node.content() == own, "\(context)")
                    continue
                }
                #expect(status.status == 2, "\(context): \(status.stdoutText) \(status.stderrText)")
                #expect(status.stdoutText.contains("unfinished restore: snapshot"), "\(context)")
                // The set-aside data and the fetched snapshot are the node's whole dataset: only their owner reaches
                // them, whatever the files' own modes.
                let work = node.redis.dataPath + "/.dynokeeper-restore"
                if let attributes = try? FileManager.default.attributesOfItem(atPath: work) {
                    #expect(attributes[.posixPermissions] as? Int == 0o700, "\(context): \(attributes)")
                }
                // Backups are refused while the node holds half-restored data, from the CLI and the API.
                let refused = try await node.cli(["backup"])
                #expect(
                    refused.status == 1 && refused.stderrText.contains("`dynokeeper restore --"),
                    "\(context): \(refused.stderrText)")
                let apiBackup = try await node.api("POST", "/v1/backups")
                #expect(
                    apiBackup.status == 409 && apiBackup.text.contains("unfinished_restore"),
                    "\(context): \(apiBackup.text)")
                let apiRestore = try await node.api("POST", "/v1/restores", body: #"{"dry_run": true}"#)
                #expect(
                    apiRestore.status == 409 && apiRestore.text.contains("unfinished_restore"),
                    "\(context): \(apiRestore.text)")
                let apiStatus = try await node.api("GET", "/v1/status")
                #expect(apiStatus.json["unfinished_restore"] != nil, "\(context): \(apiStatus.text)")
                #expect(
                    try await node.api("GET", "/metrics").text.contains("dynokeeper_unfinished_restore 1"), "\(context)"
                )

                // The failing start was meant for the restore that was killed; the recovery's starts work.
                try? FileManager.default.removeItem(atPath: node.failOnce)
                let outcome = try await recover(node, recovery, context: context)
                switch outcome {
                case .restored: #expect(try await node.content() == snapshot, "\(context)")
                case .rolledBack: #expect(try await node.content() == own, "\(context)")
                }
                #expect(node.dynomite.isRunning, "\(context)")
                let after = try await node.cli(["status"])
                #expect(
                    after.status == 0 && after.stdoutText.contains("unfinished restore: none"),
                    "\(context): \(after.stdoutText)")
                #expect(
                    !FileManager.default.fileExists(atPath: node.redis.dataPath + "/.dynokeeper-restore"), "\(context)")
                #expect(
                    try await node.api("GET", "/metrics").text.contains("dynokeeper_unfinished_restore 0"), "\(context)"
                )
            }
            // Every step of a restore (and of its rollback) writes the journal: each was a kill point.
            #expect(interrupted >= (failingStart ? 12 : method == "online" ? 5 : 8), "only \(interrupted) kill points")
            // With nothing to resume or roll back, the API says so at once.
            #expect(try await node.api("POST", "/v1/restores/rollback").status == 404)
        }
    }

    /// A daemon started after a restore was killed says so at once in its log, and its scheduled backups (here
    /// the catch-up of an empty store) are refused rather than storing half-restored data as the newest snapshot.
    /// A restore killed once it had stopped Redis and Dynomite, before it moved anything, on a node whose journal can
    /// no longer be written (a full disk; here a file size limit of 512 bytes, which the journal exceeds): the
    /// rollback starts them again all the same, and the node serves its own data.
    @Test func aRollbackThatCannotWriteItsJournalStillStartsRedisWhenNothingMoved() async throws {
        try await withResource(Node(failingStart: false)) { node in
            try await RedisDataset.populateAllTypes(node.redis, tag: "snapshot")
            #expect(try await node.cli(["backup"]).status == 0)
            try await RedisDataset.populateAllTypes(node.redis, tag: "own")
            let own = try await node.content()
            let journal = node.redis.dataPath + "/.dynokeeper/restore-journal.json"
            var stopped = false
            for killAt in 1...20 {
                let run = try await node.cli(["restore"], killAt: killAt)
                guard run.status == 137 else { break }
                let phase = (try? JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: journal))))
                    .flatMap { ($0 as? [String: Any])?["phase"] as? String }
                if phase == "stopped" {
                    stopped = true
                    break
                }
                // Not there yet: undone, and the next run is killed one write later.
                #expect(try await node.cli(["restore", "--rollback"]).status == 0)
            }
            try #require(stopped, "no kill point left the restore at phase stopped")
            #expect(!node.dynomite.isRunning)
            let rollback = try await ProcessRunner.run(
                "/bin/sh",
                [
                    "-c", #"trap '' XFSZ; ulimit -S -f 1; exec "$0" "$@""#, try DynokeeperBinary.path, "restore",
                    "--rollback", "--config", node.configPath,
                ], environment: DynokeeperBinary.cleanEnvironment([:]))
            #expect(rollback.status == 0, "\(rollback.stderrText)")
            #expect(try await node.content() == own)
            #expect(node.dynomite.isRunning)
        }
    }

    @Test func aDaemonStartedAfterAKilledRestoreReportsItAndRefusesScheduledBackups() async throws {
        try await withResource(Node(failingStart: false)) { node in
            try await RedisDataset.populateAllTypes(node.redis, tag: "snapshot")
            #expect(try await node.cli(["backup"]).status == 0)
            var unfinished = false
            for killAt in 2...12 where !unfinished {
                #expect(try await node.cli(["restore"], killAt: killAt).status == 137)
                unfinished = try await node.cli(["status"]).status == 2
            }
            try #require(unfinished, "no kill point left an unfinished restore")
            await node.serve.stop()

            let port = try FreePort.next()
            let emptyStore = node.folder.file("empty-store")
            let config =
                try String(contentsOfFile: node.configPath, encoding: .utf8)
                .replacingOccurrences(of: "listen: 127.0.0.1:\(node.apiPort)", with: "listen: 127.0.0.1:\(port)")
                .replacingOccurrences(of: "url: \(node.store.path)", with: "url: \(emptyStore)")
                + "\nbackup:\n  enabled: true\n  schedule: daily 03:00\n"
            let path = node.folder.file("later.yml")
            try config.write(toFile: path, atomically: false, encoding: .utf8)
            let serve = try BackgroundProcess(
                try DynokeeperBinary.path, ["serve", "--config", path], logPath: node.folder.file("later.log"),
                environment: DynokeeperBinary.cleanEnvironment([:]))
            defer { Task { await serve.stop() } }
            try await serve.waitUntil("the start-up report and the refused catch-up", timeout: .seconds(60)) {
                let log = serve.logTail(lines: 200)
                return log.contains("unfinished restore:") && log.contains("scheduled backup refused")
            }
            #expect(!FileManager.default.fileExists(atPath: emptyStore + "/interrupted"), "nothing was backed up")
            // Resolved, the node is backed up again.
            #expect(try await node.cli(["restore", "--rollback"]).status == 0)
        }
    }

    /// Whether a process runs (an orphan killed here may stay a zombie: PID 1 of a container need not reap it).
    static func isRunning(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
        return stat.split(separator: ")").last?.split(separator: " ").first != "Z"
    }

    /// A restore killed while its `redis.start` runs leaves that command running in a session of its own; the
    /// rollback stops it first, so that it never starts Redis in the middle of what comes next.
    @Test func aCommandLeftRunningByAKilledRestoreIsStopped() async throws {
        try await withResource(Node(failingStart: false)) { node in
            try await RedisDataset.populateAllTypes(node.redis, tag: "snapshot")
            #expect(try await node.cli(["backup"]).status == 0)
            _ = try await node.redis.cli(["SET", "own", "data"])
            let own = try await node.content()
            let marker = node.folder.file("slow-start.pid")
            let slow = "echo $$ > \(marker); sleep 4; \(node.redis.startCommand)"
            let restore = try BackgroundProcess(
                try DynokeeperBinary.path, ["restore", "--config", node.configPath],
                logPath: node.folder.file("restore.log"),
                environment: DynokeeperBinary.cleanEnvironment(["DYNOKEEPER_REDIS_START": slow]))
            try await restore.waitUntil("the restore to run redis.start", timeout: .seconds(60)) {
                FileManager.default.fileExists(atPath: marker)
            }
            kill(restore.pid, SIGKILL)
            await restore.stop()
            let leftover = try #require(
                Int32(
                    (try String(contentsOfFile: marker, encoding: .utf8)).trimmingCharacters(
                        in: .whitespacesAndNewlines)))
            #expect(Self.isRunning(leftover), "the slow redis.start outlived the restore")

            let rolledBack = try await node.cli(["restore", "--rollback"])
            #expect(rolledBack.status == 0, "\(rolledBack.stderrText)")
            #expect(!Self.isRunning(leftover), "the leftover redis.start was stopped")
            let starts = node.redis.events().filter { $0 == "redis-start" }.count
            try await Task.sleep(for: .seconds(5))
            #expect(
                node.redis.events().filter { $0 == "redis-start" }.count == starts,
                "no late start from the killed restore")
            #expect(try await node.content() == own)
        }
    }

    /// Finishes or undoes the interrupted restore; a journal of a rollback under way can only be rolled back, and
    /// a resume whose start fails rolls back by itself.
    func recover(_ node: Node, _ recovery: Recovery, context: String) async throws -> Outcome {
        switch recovery {
        case .cliResume:
            let resumed = try await node.cli(["restore", "--resume"])
            if resumed.status == 0 { return .restored }
            if resumed.stderrText.contains("Rolled back") { return .rolledBack }
            #expect(resumed.stderrText.contains("--rollback"), "\(context): \(resumed.stderrText)")
            return try await recover(node, .cliRollback, context: context)
        case .cliRollback:
            let rolledBack = try await node.cli(["restore", "--rollback"])
            if rolledBack.status != 0 && rolledBack.stderrText.contains("cannot be rolled back") {
                // Killed after the restore had succeeded, while its set-aside files were removed: only a resume.
                #expect(rolledBack.stderrText.contains("--resume"), "\(context): \(rolledBack.stderrText)")
                return try await recover(node, .cliResume, context: context)
            }
            #expect(
                rolledBack.status == 0 && rolledBack.stdoutText.contains("Rolled back"),
                "\(context): \(rolledBack.stderrText)")
            return .rolledBack
        case .apiResume:
            let job = try await node.apiJob("/v1/restores/resume")
            if job["state"] as? String == "succeeded" { return .restored }
            let error = job["error"] as? String ?? ""
            if error.contains("Rolled back") { return .rolledBack }
            #expect(error.contains("--rollback"), "\(context): \(job)")
            return try await recover(node, .apiRollback, context: context)
        case .apiRollback:
            let job = try await node.apiJob("/v1/restores/rollback")
            if (job["error"] as? String)?.contains("cannot be rolled back") == true {
                return try await recover(node, .apiResume, context: context)
            }
            #expect(job["state"] as? String == "succeeded", "\(context): \(job)")
            return .rolledBack
        }
    }
}

extension InterruptedRestoreTests.Node: TestResource {}
