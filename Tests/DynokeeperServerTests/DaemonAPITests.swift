import AsyncHTTPClient
import DynokeeperConfiguration
import DynokeeperEngine
import DynokeeperServer
import DynokeeperTestSupport
import Foundation
import Logging
import NIOHTTP1
import Testing

/// `dynokeeper serve` in process, with a real redis-server and SeaweedFS. (What needs neither is tested at router
/// level, in APIRouterTests.)
@Suite(.tags(.integration)) struct DaemonAPITests {
    @Test func backupThroughRESTThenRestore() async throws {
        try await withTestDaemon { daemon in
            try await RedisDataset.populateAllTypes(daemon.redis, tag: "rest")

            let accepted = try await daemon.call(.POST, "/v1/backups", body: #"{"type": "rdb"}"#)
            #expect(accepted.status == 202, "\(accepted.body)")
            let id = try #require(accepted.json["id"] as? String)
            #expect(accepted.json["kind"] as? String == "backup")
            let job = try await daemon.waitForJob(id)
            #expect(job["state"] as? String == "succeeded", "\(job)")
            // Numbers are JSON numbers, and the body is the Job contract the peers and the CLI decode too.
            let result = try #require(job["result"] as? [String: Any])
            #expect(result["keys"] as? Int == 351)  // 341 in db0, 10 in db3
            #expect((result["stored_size"] as? Int ?? 0) > 0)
            let typed = try APIJSON.decoder.decode(Job.self, from: JSONSerialization.data(withJSONObject: job))
            #expect(typed.result?.keys == 351 && typed.parameters.type == .rdb)
            let snapshot = try #require(typed.result?.snapshot)

            let catalog = try await daemon.call(.GET, "/v1/snapshots")
            #expect(catalog.status == 200)
            let listed = (catalog.json["snapshots"] as? [[String: Any]])?.compactMap { $0["id"] as? String }
            #expect(listed == [snapshot])
            let all = try await daemon.call(.GET, "/v1/snapshots?cluster=daemon-test&all_nodes=true")
            #expect((all.json["snapshots"] as? [Any])?.count == 1)
            let jobs = try await daemon.call(.GET, "/v1/jobs")
            #expect((jobs.json["jobs"] as? [[String: Any]])?.first?["id"] as? String == id)

            // Change the data, then restore through REST.
            _ = try await daemon.redis.cli(["FLUSHALL"])
            _ = try await daemon.redis.cli(["SET", "after", "backup"])
            let restore = try await daemon.call(.POST, "/v1/restores", body: #"{"snapshot": "\#(snapshot)"}"#)
            #expect(restore.status == 202, "\(restore.body)")
            let restored = try await daemon.waitForJob(try #require(restore.json["id"] as? String))
            #expect(restored["state"] as? String == "succeeded", "\(restored)")
            #expect(
                try await daemon.redis.cli(["DBSIZE"]).stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
                    == "341")
            #expect(try await daemon.redis.cli(["GET", "string:3"]).stdoutText.hasPrefix("rest-value-3"))

            let status = try await daemon.call(.GET, "/v1/status").json
            #expect((status["redis"] as? [String: Any])?["up"] as? Bool == true)
            #expect((status["last_backup"] as? [String: Any])?["id"] as? String == id)
            #expect((status["last_restore"] as? [String: Any])?["state"] as? String == "succeeded")
            #expect((status["node"] as? [String: Any])?["cluster"] as? String == "daemon-test")
        }
    }

    @Test func aSecondJobWhileOneRunsIs409() async throws {
        // Each key takes 5 ms to save: the BGSAVE of 1000 keys runs for about five seconds, a margin for a loaded
        // machine that keeps this test waiting between its requests.
        try await withTestDaemon(extra: ["rdb-key-save-delay 5000"]) { daemon in
            try await RedisDataset.populateRandom(daemon.redis, count: 1000, size: 16)
            let first = try await daemon.call(.POST, "/v1/backups", body: "{}")
            #expect(first.status == 202)
            let id = try #require(first.json["id"] as? String)
            let second = try await daemon.call(.POST, "/v1/backups", body: #"{"type": "rdb"}"#)
            #expect(second.status == 409)
            let message = (second.json["error"] as? [String: Any])?["message"] as? String ?? ""
            #expect(message.contains(id), "\(message)")
            let restore = try await daemon.call(.POST, "/v1/restores", body: "{}")
            #expect(restore.status == 409)
            var running = try await daemon.call(.GET, "/v1/jobs/\(id)").json
            #expect(running["state"] as? String == "running")
            // The job shows its step once it gets there.
            for _ in 0..<300 where running["step"] as? String != "BGSAVE" {
                try await Task.sleep(for: .milliseconds(10))
                running = try await daemon.call(.GET, "/v1/jobs/\(id)").json
            }
            #expect(running["step"] as? String == "BGSAVE")
            #expect(try await daemon.waitForJob(id)["state"] as? String == "succeeded")
        }
    }

    /// The daemon and the CLI share the node lock: while another process holds it, job requests are 409 naming
    /// it, and the status shows it.
    @Test func aNodeLockedByAnotherProcessIs409() async throws {
        try await withTestDaemon { daemon in
            let folders = try #require(
                try NodeFolders.withoutRedis(
                    try DynokeeperConfiguration.load(path: daemon.configPath, environment: [:])))
            let lock = try NodeLock.acquire(folders, operation: "restore")
            let backup = try await daemon.call(.POST, "/v1/backups", body: "{}")
            #expect(backup.status == 409)
            let error = backup.json["error"] as? [String: Any]
            #expect(error?["code"] as? String == "busy")
            #expect(
                (error?["message"] as? String)?.contains("restore started by pid \(getpid())") == true, "\(backup.body)"
            )
            #expect(try await daemon.call(.POST, "/v1/restores", body: "{}").status == 409)
            // Stopping Redis by hand (Dynomite-manager's admin path) waits for its turn too.
            let stop = try await daemon.call(.GET, "/REST/v1/admin/stopstorageprocess")
            #expect(stop.status == 500 && stop.body.contains("busy"), "\(stop.body)")
            #expect(try await daemon.redis.cli(["PING"]).stdoutText.contains("PONG"))
            let status = try await daemon.call(.GET, "/v1/status").json
            #expect((status["node_operation"] as? [String: Any])?["operation"] as? String == "restore", "\(status)")
            lock.release()
            let accepted = try await daemon.call(.POST, "/v1/backups", body: "{}")
            #expect(accepted.status == 202)
            let id = try #require(accepted.json["id"] as? String)
            #expect(try await daemon.waitForJob(id)["state"] as? String == "succeeded")
        }
    }

    /// Dynomite-manager's takesnapshot saves as the node persists: BGREWRITEAOF for an AOF node (its default
    /// persistence), on v2's root as on v1's.
    @Test func takeSnapshotFollowsThePersistenceType() async throws {
        try await withTestDaemon(backup: "enabled: false\n  type: aof", extra: ["appendonly yes"]) { daemon in
            func rewrites() async throws -> Int {
                let info = try await daemon.redis.cli(["INFO", "persistence"]).stdoutText
                let line = info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("aof_rewrites:") }
                return Int(line?.split(separator: ":").last ?? "") ?? -1
            }
            let before = try await rewrites()
            #expect(try await daemon.call(.GET, "/api/v1/admin/takesnapshot").body == #"["ok"]"#)
            #expect(try await rewrites() == before + 1)
        }
    }

    @Test func dynomiteManagerPathsWork() async throws {
        try await withTestDaemon { daemon in
            try await RedisDataset.populateAllTypes(daemon.redis, tag: "dm")
            let backup = try await daemon.call(.GET, "/REST/v1/admin/backup")
            #expect(backup.status == 200)
            #expect(backup.body == #"["ok"]"#)
            let snapshots = try await daemon.call(.GET, "/v1/snapshots").json["snapshots"] as? [Any]
            #expect(snapshots?.count == 1)
            #expect(try await daemon.call(.GET, "/REST/v1/admin/takesnapshot").body == #"["ok"]"#)

            // A dry run restores nothing: Dynomite-manager's status does not count it.
            let dryRun = try await daemon.call(.POST, "/v1/restores", body: #"{"dry_run": true}"#)
            #expect(dryRun.status == 202, "\(dryRun.body)")
            if let id = dryRun.json["id"] as? String {
                #expect(try await daemon.waitForJob(id)["state"] as? String == "succeeded")
            }
            var status = try await daemon.call(.GET, "/REST/v1/admin/status").json
            #expect((status["backup"] as? [String: Any])?["status"] as? String == "completed")
            #expect((status["restore"] as? [String: Any])?["status"] as? String == "not started")
            #expect((status["health"] as? [String: Any])?["storageAlive"] as? Bool == true)
            #expect(status["tokens"] as? String == "0")

            #expect(try await daemon.call(.GET, "/REST/v1/admin/stopstorageprocess").body == #"["ok"]"#)
            status = try await daemon.call(.GET, "/REST/v1/admin/status").json
            #expect((status["health"] as? [String: Any])?["storageAlive"] as? Bool == false)
            // Dynomite-manager's paths are case-insensitive.
            #expect(try await daemon.call(.GET, "/REST/v1/admin/StartStorageProcess").body == #"["ok"]"#)
            #expect(try await daemon.call(.GET, "/REST/v1/admin/restore").body == #"["ok"]"#)
            status = try await daemon.call(.GET, "/REST/v1/admin/status").json
            #expect((status["restore"] as? [String: Any])?["status"] as? String == "completed")
            #expect(try await daemon.redis.cli(["GET", "string:1"]).stdoutText.hasPrefix("dm-value-1"))
            // No Dynomite on this node: a clear failure, as Dynomite-manager would give.
            let start = try await daemon.call(.GET, "/REST/v1/admin/start")
            #expect(start.status == 500)
            #expect(start.body.contains("runs no Dynomite"))
        }
    }

    @Test func metricsParseAsPrometheusTextAndMoveAfterABackup() async throws {
        try await withTestDaemon { daemon in
            func scrape() async throws -> [String: Double] {
                let reply = try await daemon.call(.GET, "/metrics")
                #expect(reply.status == 200)
                #expect(reply.headers.contains { $0.0.lowercased() == "content-type" && $0.1.hasPrefix("text/plain") })
                var samples: [String: Double] = [:]
                for line in reply.body.split(separator: "\n") where !line.hasPrefix("#") {
                    // name{labels} value
                    let parts = line.split(separator: " ")
                    #expect(parts.count == 2, "not a sample line: \(line)")
                    #expect(
                        parts[0].range(
                            of:
                                #"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"]*")*\})?$"#,
                            options: .regularExpression) != nil, "\(line)")
                    samples[String(parts[0])] = Double(parts[1])
                }
                return samples
            }
            let before = try await scrape()
            #expect(before["dynokeeper_redis_up"] == 1)
            #expect(before["dynokeeper_uploaded_bytes_total"] == 0)
            #expect(before[#"dynokeeper_jobs_succeeded_total{kind="backup",type="rdb"}"#] == nil)

            let accepted = try await daemon.call(.POST, "/v1/backups", body: "{}")
            _ = try await daemon.waitForJob(try #require(accepted.json["id"] as? String))
            let after = try await scrape()
            #expect(after[#"dynokeeper_jobs_started_total{kind="backup",type="rdb"}"#] == 1)
            #expect(after[#"dynokeeper_jobs_succeeded_total{kind="backup",type="rdb"}"#] == 1)
            #expect((after["dynokeeper_uploaded_bytes_total"] ?? 0) > 0)
            #expect(
                (after["dynokeeper_last_successful_backup_timestamp_seconds"] ?? 0) > Date().timeIntervalSince1970 - 600
            )
            #expect(after.keys.contains { $0.hasPrefix("dynokeeper_job_duration_seconds_bucket") })
            #expect(after[#"dynokeeper_job_running{kind="backup"}"#] == 0)
        }
    }
}
