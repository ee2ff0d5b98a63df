import DynokeeperEngine
import DynokeeperTestSupport
import Foundation
import Hummingbird
import NIOCore
import ObjectStorage
import Testing

@testable import DynokeeperServer

/// The API's checks and answers that need no Redis or store, at router level (see ``TestRouter``).
@Suite struct APIRouterTests {
    static func errorCode(_ reply: TestDaemon.Reply) -> String? {
        (reply.json["error"] as? [String: Any])?["code"] as? String
    }

    static func errorMessage(_ reply: TestDaemon.Reply) -> String {
        (reply.json["error"] as? [String: Any])?["message"] as? String ?? ""
    }

    @Test func tokensAreRequiredButNotForHealth() async throws {
        try await withTestRouter { api in
            let missing = try await api.call(.get, "/v1/status", token: nil)
            #expect(missing.status == 401)
            #expect(Self.errorCode(missing) == "unauthorized")
            #expect(try await api.call(.get, "/v1/jobs", token: "wrong-token-0123456789abcdef").status == 401)
            #expect(try await api.call(.get, "/v1/jobs", token: String(TestDaemon.token.dropLast())).status == 401)
            #expect(try await api.call(.get, "/health", token: nil).status == 200)
            #expect(try await api.call(.get, "/metrics", token: nil).status == 401)
            #expect(try await api.call(.get, "/REST/v1/admin/status", token: nil).status == 401)
            #expect(try await api.call(.get, "/v1/jobs").status == 200)
        }
    }

    @Test func badBodiesAre400sNamingTheField() async throws {
        try await withTestRouter { api in
            let cases: [(String, String, String)] = [
                ("/v1/backups", #"{"type": "rdb", "extra": 1}"#, "unknown field extra"),
                ("/v1/backups", #"{"type": "zip"}"#, "field type must be rdb or aof"),
                ("/v1/backups", #"{"type": 3}"#, "field type must be a string"),
                ("/v1/backups", #"{"snapshot_id": "today"}"#, "field snapshot_id"),
                // A snapshot id in the future would be the newest snapshot until then.
                (
                    "/v1/backups", #"{"snapshot_id": "20990101T000000Z"}"#,
                    "more than 5 minutes ahead of this node's clock"
                ),
                ("/v1/backups", "not json", "the body is not JSON"),
                ("/v1/backups", "[1, 2]", "the body must be a JSON object"),
                ("/v1/restores", #"{"date": "yesterday"}"#, "field date"),
                ("/v1/restores", #"{"dry_run": "yes"}"#, "field dry_run must be true or false"),
                ("/v1/restores", #"{"dry_run": 1}"#, "field dry_run must be true or false"),
                ("/v1/restores", #"{"snapshot": "2026-11-24"}"#, "field snapshot"),
                ("/v1/restores", #"{"source_cluster": "a/b"}"#, "field source_cluster"),
                ("/v1/restores", #"{"format": "rdb"}"#, "unknown field format"),
                ("/v1/restores/resume", #"{"force": true}"#, "unknown field force"),
                ("/v1/restores/rollback", #"{"x": 1}"#, "unknown field x"),
                ("/v1/ring/backups", #"{"snapshot_id": "20261124T020000Z"}"#, "unknown field snapshot_id"),
                ("/v1/ring/restores", #"{"rack_by_rack": "no"}"#, "field rack_by_rack must be true or false"),
                ("/v1/ring/restores", #"{"mapping": {"dc1/r1": 2}}"#, "field mapping.dc1/r1 must be a string"),
                ("/v1/ring/restores", #"{"mapping": ["dc1/r1"]}"#, "field mapping must be an object"),
            ]
            for (path, body, expected) in cases {
                let reply = try await api.call(.post, path, body: body)
                #expect(reply.status == 400, "\(body): \(reply.body)")
                #expect(Self.errorCode(reply) == "invalid_request", "\(body): \(reply.body)")
                #expect(Self.errorMessage(reply).contains(expected), "\(body): \(Self.errorMessage(reply))")
            }
        }
    }

    @Test func unknownQueryParametersAndBadValuesAre400s() async throws {
        try await withTestRouter { api in
            let maybe = try await api.call(.get, "/v1/snapshots?all_nodes=maybe")
            #expect(maybe.status == 400)
            #expect(Self.errorMessage(maybe).contains("all_nodes must be true or false, not maybe"))
            let colour = try await api.call(.get, "/v1/snapshots?colour=red")
            #expect(colour.status == 400)
            #expect(Self.errorMessage(colour).contains("unknown query parameter colour"))
            #expect(try await api.call(.get, "/v1/snapshots?cluster=a/b").status == 400)
            let listed = try await api.call(.get, "/v1/snapshots?cluster=other&all_nodes=true")
            #expect(listed.status == 200)
            #expect((listed.json["snapshots"] as? [Any])?.isEmpty == true)
            let ring = try await api.call(.get, "/v1/ring/snapshots?cluster=other")
            #expect(ring.json["cluster"] as? String == "other")
            #expect(try await api.call(.get, "/v1/ring/snapshots").json["cluster"] as? String == "router-test")
        }
    }

    @Test func unknownPathsAndJobsAre404s() async throws {
        try await withTestRouter { api in
            let nothing = try await api.call(.get, "/v1/nothing")
            #expect(nothing.status == 404)
            #expect(Self.errorCode(nothing) == "not_found")
            let job = try await api.call(.get, "/v1/jobs/no-such-job")
            #expect(job.status == 404)
            #expect(Self.errorMessage(job) == "no job no-such-job")
            let ringJob = try await api.call(.get, "/v1/ring/jobs/no-such-job")
            #expect(ringJob.status == 404)
            #expect(Self.errorCode(ringJob) == "not_found")
            // No unfinished restore to resume or roll back.
            let rollback = try await api.call(.post, "/v1/restores/rollback")
            #expect(rollback.status == 404)
            #expect(Self.errorCode(rollback) == "no_unfinished_restore")
        }
    }

    @Test func restoresRefusedWhenDisabledAre403s() async throws {
        try await withTestRouter(restore: "enabled: false") { api in
            for path in ["/v1/restores", "/v1/restores/resume"] {
                let reply = try await api.call(.post, path, body: "{}")
                #expect(reply.status == 403, "\(path): \(reply.body)")
                #expect(Self.errorCode(reply) == "restores_disabled")
            }
        }
    }

    /// A backup is accepted before it meets Redis; it then fails with the `redis` code, as the job, the job list
    /// and the status show.
    @Test func aBackupWithoutRedisIsAcceptedThenFailsWithItsCode() async throws {
        try await withTestRouter { api in
            let accepted = try await api.call(.post, "/v1/backups", body: #"{"type": "aof"}"#)
            #expect(accepted.status == 202, "\(accepted.body)")
            let id = try #require(accepted.json["id"] as? String)
            #expect((accepted.json["parameters"] as? [String: Any])?["type"] as? String == "aof")
            _ = await api.daemon.node.runner.wait(id)
            let job = try await api.call(.get, "/v1/jobs/\(id)").json
            #expect(job["state"] as? String == "failed")
            #expect(job["error_code"] as? String == "redis", "\(job)")
            let jobs = try await api.call(.get, "/v1/jobs").json["jobs"] as? [[String: Any]]
            #expect(jobs?.map { $0["id"] as? String } == [id])
            let status = try await api.call(.get, "/v1/status").json
            #expect((status["redis"] as? [String: Any])?["up"] as? Bool == false)
            #expect((status["last_backup"] as? [String: Any])?["id"] as? String == id)
            #expect(status["restores_enabled"] as? Bool == true)
            let metrics = try await api.call(.get, "/metrics")
            #expect(metrics.body.contains("dynokeeper_redis_up 0"), "\(metrics.body)")
        }
    }

    /// A job the node's configuration cannot run is refused at once (422, saying what to set), rather than
    /// accepted and failed: a restore without redis.start, ring jobs without ring.peers.
    @Test func jobsTheConfigurationCannotRunAre422s() async throws {
        try await withTestRouter { api in
            let restore = try await api.call(.post, "/v1/restores", body: #"{"dry_run": true}"#)
            #expect(restore.status == 422, "\(restore.body)")
            #expect(Self.errorCode(restore) == "invalid_configuration")
            #expect(Self.errorMessage(restore).contains("set redis.start"), "\(restore.body)")
            for path in ["/v1/ring/backups", "/v1/ring/restores"] {
                let ring = try await api.call(.post, path, body: "{}")
                #expect(ring.status == 422, "\(path): \(ring.body)")
                #expect(Self.errorMessage(ring).contains("ring operations need ring.peers"), "\(ring.body)")
            }
            // Nothing was started.
            #expect((try await api.call(.get, "/v1/jobs").json["jobs"] as? [Any])?.isEmpty == true)
            #expect((try await api.call(.get, "/v1/ring/jobs").json["jobs"] as? [Any])?.isEmpty == true)
            // A request that takes no fields says so.
            let resume = try await api.call(.post, "/v1/restores/rollback", body: #"{"x": 1}"#)
            #expect(Self.errorMessage(resume) == "unknown field x: this request takes no fields")
        }
    }

    @Test func dynomiteManagerPathsAnswerInItsShapes() async throws {
        try await withTestRouter { api in
            let start = try await api.call(.get, "/REST/v1/admin/start")
            #expect(start.status == 500)
            #expect(start.body.contains("runs no Dynomite"))
            let status = try await api.call(.get, "/REST/v1/Admin/Status").json
            #expect((status["health"] as? [String: Any])?["storageAlive"] as? Bool == false)
            #expect((status["backup"] as? [String: Any])?["status"] as? String == "not started")
            #expect(status["storage engine"] as? String == "redis")
            // v2's root answers the same.
            let v2 = try await api.call(.get, "/api/v1/admin/status").json
            #expect(v2["storage engine"] as? String == "redis")
            #expect(try await api.call(.get, "/api/v1/admin/start").body.contains("runs no Dynomite"))
        }
    }

    /// While `restore.on_start` has not filled an empty node, a backup however asked (the API, Dynomite-manager's
    /// path) is refused: it would store the empty node as the newest snapshot, which the next start would restore.
    @Test(.tags(.integration)) func backupsWaitForTheRestoreAtStartUp() async throws {
        let redis = try ManagedRedis()
        try await redis.start()
        try await withScoped(redis, stop: { await $0.stopAndRemove() }) { redis in
            try await withTestRouter(restore: "enabled: true\n  on_start: true", redis: redis) { api in
                let refused = try await api.call(.post, "/v1/backups", body: "{}")
                #expect(refused.status == 409 && Self.errorCode(refused) == "unfinished_restore", "\(refused.body)")
                #expect(Self.errorMessage(refused).contains("restore.on_start has not restored this node yet"))
                let dynomiteManager = try await api.call(.get, "/REST/v1/admin/backup")
                // Dynomite-manager's paths answer every failure with a 500 and the message.
                #expect(
                    dynomiteManager.status == 500
                        && dynomiteManager.body.contains("restore.on_start has not restored this node yet"),
                    "\(dynomiteManager.body)")
            }
            // A node that holds data is not waiting for anything.
            _ = try await redis.cli(["SET", "key", "value"])
            try await withTestRouter(restore: "enabled: true\n  on_start: true", redis: redis) { api in
                let accepted = try await api.call(.post, "/v1/backups", body: "{}")
                #expect(accepted.status == 202, "\(accepted.body)")
                _ = try await api.daemon.node.runner.wait(
                    try #require(accepted.json["id"] as? String))
            }
        }
    }

    /// Two snapshots of the router's node written straight into its store (a manifest and an object each).
    static func twoSnapshots(_ api: TestRouter) async throws -> (older: String, newer: String) {
        let store = api.daemon.node.store
        for id in ["20261124T020000Z", "20261125T020000Z"] {
            let prefix = "router-test/dc1/rack1/0/\(id)/"
            let manifest = ContractValues.manifestJSON
                .replacingOccurrences(of: "20261124T020000Z", with: id)
                .replacingOccurrences(of: #""cluster": "prod""#, with: #""cluster": "router-test""#)
                .replacingOccurrences(of: #""tokens": "100""#, with: #""tokens": "0""#)
            _ = try await store.put(prefix + "dump.rdb.zst", bytes: ByteBuffer(repeating: 1, count: 20))
            _ = try await store.put(prefix + "manifest.json", bytes: ByteBuffer(string: manifest))
        }
        return ("20261124T020000Z", "20261125T020000Z")
    }

    /// A store that cannot be listed is an error (502, code storage), never an empty or shorter list.
    @Test func aStoreThatCannotBeListedIs502NotAnEmptyList() async throws {
        try await withTestRouter { api in
            let root = try #require(api.daemon.node.store as? LocalDirectoryStore).root
            try FileManager.default.createDirectory(atPath: root + "/router-test", withIntermediateDirectories: true)
            // A folder of the node's path that loops (ELOOP): listing it fails even for root.
            try FileManager.default.createSymbolicLink(atPath: root + "/router-test/dc1", withDestinationPath: "dc1")
            let reply = try await api.call(.get, "/v1/snapshots")
            #expect(reply.status == 502, "\(reply.body)")
            #expect(Self.errorCode(reply) == "storage", "\(reply.body)")
        }
    }

    @Test func snapshotsAreShownPinnedAndPruned() async throws {
        try await withTestRouter { api in
            let (older, newer) = try await Self.twoSnapshots(api)
            let shown = try await api.call(.get, "/v1/snapshots/\(older)")
            #expect(shown.status == 200)
            #expect((shown.json["snapshot"] as? [String: Any])?["id"] as? String == older)
            #expect((shown.json["pin"] as? [String: Any])?["pinned"] as? Bool == false)
            #expect(try await api.call(.get, "/v1/snapshots/yesterday").status == 400)
            #expect(try await api.call(.get, "/v1/snapshots/20200101T000000Z").status == 404)

            let pinned = try await api.call(.post, "/v1/snapshots/\(older)/pin", body: #"{"note": "migration"}"#)
            #expect(pinned.status == 200)
            #expect(pinned.json["note"] as? String == "migration")
            #expect(try await api.call(.post, "/v1/snapshots/\(older)/pin", body: #"{"notes": "x"}"#).status == 400)
            let again = try await api.call(.get, "/v1/snapshots/\(older)")
            #expect((again.json["pin"] as? [String: Any])?["note"] as? String == "migration")

            // No rule in the body and none configured; a negative count; a duration that does not parse.
            #expect(Self.errorCode(try await api.call(.post, "/v1/prune", body: "{}")) == "invalid_request")
            #expect(try await api.call(.post, "/v1/prune", body: #"{"keep_last": -1}"#).status == 400)
            #expect(try await api.call(.post, "/v1/prune", body: #"{"keep_within": "soon"}"#).status == 400)
            let dry = try await api.call(.post, "/v1/prune", body: #"{"keep_last": 1, "dry_run": true}"#)
            #expect(dry.status == 200)
            let planned = dry.json["snapshots"] as? [[String: Any]] ?? []
            #expect(planned.map { $0["snapshot"] as? String } == [newer, older])
            #expect(planned.map { $0["keep"] as? Bool } == [true, true])
            #expect(planned.last?["reasons"] as? [String] == ["pinned"])

            #expect(try await api.call(.delete, "/v1/snapshots/\(older)/pin").json["pinned"] as? Bool == false)
            let pruned = try await api.call(.post, "/v1/prune", body: #"{"keep_last": 1}"#)
            #expect((pruned.json["snapshots"] as? [[String: Any]])?.map { $0["keep"] as? Bool } == [true, false])
            #expect(try await api.call(.get, "/v1/snapshots/\(older)").status == 404)
            #expect(try await api.call(.get, "/v1/snapshots/\(newer)").status == 200)
        }
    }

    /// A verification job reads the snapshots back; objects that are not what their manifests say fail it, each
    /// named, and the failures reach the metrics.
    @Test func aVerificationOfDamagedSnapshotsFailsNamingEach() async throws {
        try await withTestRouter { api in
            let (older, newer) = try await Self.twoSnapshots(api)
            #expect(
                try await api.call(.post, "/v1/verifications", body: #"{"all": true, "snapshot": "x"}"#).status == 400)
            #expect(try await api.call(.post, "/v1/verifications", body: #"{"loads": true}"#).status == 400)
            let accepted = try await api.call(.post, "/v1/verifications", body: #"{"all": true}"#)
            #expect(accepted.status == 202, "\(accepted.body)")
            #expect(accepted.json["kind"] as? String == "verification")
            let id = try #require(accepted.json["id"] as? String)
            _ = await api.daemon.node.runner.wait(id)
            let job = try await api.call(.get, "/v1/jobs/\(id)").json
            #expect(job["state"] as? String == "failed")
            #expect(job["error_code"] as? String == "snapshot")
            let error = job["error"] as? String ?? ""
            #expect(
                error.contains("2 of 2 snapshot(s) failed") && error.contains(older) && error.contains(newer),
                "\(error)")
            let metrics = try await api.call(.get, "/metrics").body
            #expect(metrics.contains("dynokeeper_verification_failures_total 2"), "\(metrics)")
        }
    }

    @Test func theTokenCheckTakesAnyCaseOfTheSchemeAndNothingElse() async throws {
        try await withTestRouter { api in
            for (scheme, status) in [("bearer ", 200), ("BEARER ", 200), ("Basic ", 401), ("Bearer", 401)] {
                let header = scheme + TestDaemon.token
                let reply = try await api.call(.get, "/v1/jobs", authorization: header)
                #expect(reply.status == status, "\(scheme)")
            }
        }
        // A length difference of 256 does not vanish (it did in an 8-bit accumulator).
        let token = Array(TestDaemon.token.utf8)
        #expect(
            !BearerTokenMiddleware<BasicRequestContext>.constantTimeEquals(
                token, token + [UInt8](repeating: 0, count: 256)))
        #expect(BearerTokenMiddleware<BasicRequestContext>.constantTimeEquals(token, token))
    }

    @Test func aBodyOverTheLimitIs413AndUnexpectedErrorsSayNothingInternal() async throws {
        try await withTestRouter { api in
            let large = "{\"type\": \"rdb\", \"padding\": \"" + String(repeating: "x", count: 70_000) + "\"}"
            let reply = try await api.call(.post, "/v1/backups", body: large)
            #expect(reply.status == 413, "\(reply.body)")
            #expect(Self.errorCode(reply) == "invalid_request")
            #expect(Self.errorMessage(reply).contains("64 KiB"))
            #expect(!reply.body.contains("NIO"))
        }
    }

    @Test func namesThatWouldLeaveTheStoreAreRefused() async throws {
        try await withTestRouter { api in
            for path in ["/v1/ring/snapshots?cluster=..", "/v1/ring/snapshots?cluster=.", "/v1/snapshots?cluster=.."] {
                let reply = try await api.call(.get, path)
                #expect(reply.status == 400, "\(path): \(reply.body)")
            }
            #expect(try await api.call(.get, "/v1/ring/snapshots?clusters=x").status == 400)
            let restore = try await api.call(.post, "/v1/restores", body: #"{"source_cluster": ".."}"#)
            #expect(restore.status == 400)
            #expect(Self.errorMessage(restore).contains("source_cluster"))
        }
    }
}
