import DynokeeperConfiguration
import DynokeeperEngine
import DynokeeperRing
import DynokeeperTestSupport
import Foundation
import Testing

@testable import DynokeeperServer

/// docs/openapi.yaml describes the API the router really serves: the same routes, the fields the server accepts,
/// and schemas that the contracts' JSON matches field for field. (Every reply in this target's tests is checked
/// against it too, see ``OpenAPISpec/expectConforms(_:method:path:sourceLocation:)``.)
@Suite struct OpenAPITests {
    @Test func theSpecHasExactlyTheRoutesOfTheRouter() async throws {
        let spec = try OpenAPISpec.load()
        let routes = try await withTestRouter { api in
            api.daemon.makeRouter().routes.map { "\($0.method.rawValue) \($0.path.description)" }
        }
        // The router is case-insensitive: it keeps its paths lowercased.
        let specified = Set(spec.operations.map { $0.lowercased() })
        #expect(routes.count == Set(routes).count)
        let routed = Set(routes.map { $0.lowercased() })
        #expect(
            routed == specified,
            "only routed: \(routed.subtracting(specified)), only in the spec: \(specified.subtracting(routed))")
        #expect(routes.count > 20)
    }

    @Test func everyOperationButHealthNeedsTheToken() async throws {
        try await withTestRouter { api in
            let spec = try OpenAPISpec.load()
            #expect(spec.document["security"]?.array?.first?.object?["bearer"] != nil)
            for operation in spec.operations.sorted() {
                let parts = operation.split(separator: " ")
                let path = parts[1].replacingOccurrences(of: "{id}", with: "some-id")
                let open = try spec.operation(String(parts[0]), path).operation["security"]?.array?.isEmpty == true
                let reply = try await api.call(.init(String(parts[0]))!, path, token: nil)
                #expect(reply.status == (open ? 200 : 401), "\(operation): \(reply.body)")
                #expect(open == (path == "/health"), "\(operation)")
            }
        }
    }

    @Test func errorCodesAreTheContractsCodes() throws {
        let codes = try OpenAPISpec.load().schema("ErrorCode").object?["enum"]?.array?.compactMap(\.string)
        #expect(codes == DynokeeperError.Code.allCases.map(\.rawValue))
    }

    /// Request bodies declare exactly the fields the server reads and refuse others, as the server does; the
    /// request contracts, every field set, encode to bodies the schemas accept.
    @Test func requestBodiesAreWhatTheServerAccepts() throws {
        let spec = try OpenAPISpec.load()
        let bodies: [(path: String, fields: Set<String>)] = [
            ("/v1/backups", BackupRequest.fields), ("/v1/restores", RestoreRequest.fields),
            ("/v1/restores/resume", []), ("/v1/restores/rollback", []),
            ("/v1/ring/backups", RingBackupRequest.fields), ("/v1/ring/restores", RingRestoreRequest.fields),
            ("/v1/prune", PruneRequest.fields), ("/v1/snapshots/{id}/pin", ["note"]),
            ("/v1/verifications", VerificationRequest.fields),
        ]
        let posts = spec.operations.filter { $0.hasPrefix("POST ") }.map { String($0.dropFirst(5)) }
        #expect(Set(posts) == Set(bodies.map(\.path)))
        for (path, fields) in bodies {
            let schema = try spec.requestSchema("POST", path).object ?? [:]
            #expect(Set(schema["properties"]?.object?.keys ?? [:].keys) == fields, "\(path)")
            #expect(schema["additionalProperties"]?.sameScalar(as: .bool(false)) == true, "\(path)")
        }

        let date = Date(timeIntervalSince1970: 1_795_000_000)
        let snapshot = try #require(SnapshotID("20261124T020000Z"))
        var restore = RestoreRequest(
            date: date, snapshot: snapshot, sourceCluster: "prod", sourceDatacenter: "dc1", sourceRack: "rack1",
            dryRun: true, force: true)
        restore.format = .dynokeeper
        restore.toTime = date
        var ring = RingRestoreRequest(
            date: date, snapshot: snapshot, sourceCluster: "prod", dryRun: true, rackByRack: true,
            mapping: ["east/ra": "dc1/rack1"])
        ring.toTime = date
        let requests: [(String, any Encodable)] = [
            ("/v1/backups", BackupRequest(type: .aof, snapshotID: snapshot)),
            ("/v1/restores", restore),
            ("/v1/ring/backups", RingBackupRequest(type: .rdb)),
            ("/v1/verifications", VerificationRequest(snapshot: snapshot, all: true, load: true)),
            (
                "/v1/prune",
                PruneRequest(
                    keepLast: 1, keepHourly: 2, keepDaily: 3, keepWeekly: 4, keepMonthly: 5, keepWithin: "36h",
                    dryRun: true)
            ),
            ("/v1/ring/restores", ring),
        ]
        for (path, request) in requests {
            #expect(ContractValues.unset(request).isEmpty, "\(path): \(ContractValues.unset(request))")
            let schema = try spec.requestSchema("POST", path)
            let problems = spec.problems(try ContractValues.json(request), schema, complete: true)
            #expect(problems.isEmpty, "\(path): \(problems)")
        }
    }

    /// Each response contract with every field set encodes to exactly the fields its schema declares, of the
    /// declared types: a field gained, lost or renamed, or a changed enum, fails here.
    @Test func contractsWithEveryFieldSetMatchTheirSchemas() throws {
        let spec = try OpenAPISpec.load()
        let values: [(String, any Encodable)] = [
            ("Job", ContractValues.job), ("JobList", JobList(jobs: [ContractValues.job])),
            ("RingJob", ContractValues.ringJob), ("RingJobList", RingJobList(jobs: [ContractValues.ringJob])),
            ("NodeStatus", try ContractValues.status()),
            ("RingSnapshotList", RingSnapshotList(cluster: "prod", snapshots: ["20261124T020000Z"])),
            ("ErrorBody", ErrorBody(code: "busy", message: "a backup holds the node lock")),
            ("SnapshotDetail", try ContractValues.snapshotDetail()),
            (
                "PinState",
                PinState(snapshot: "20261124T020000Z", pinned: true, pinnedAt: ContractValues.date, note: "m")
            ),
            (
                "PruneReport",
                PruneReport(
                    dryRun: true,
                    snapshots: [ContractValues.decision])
            ),
        ]
        for (name, value) in values {
            #expect(ContractValues.unset(value).isEmpty, "\(name): \(ContractValues.unset(value))")
            let schema = try spec.schema(name)
            let problems = spec.problems(try ContractValues.json(value), schema, at: name, complete: true)
            #expect(problems.isEmpty, "\(problems)")
        }
        // Dynomite-manager's status has its own encoder, which keeps its camelCase keys.
        let time = Date(timeIntervalSince1970: 1_795_000_000)
        let document = DynomiteManagerRoutes.StatusDocument(
            warmup: .init(status: "not started", time: time), backup: .init(status: "completed", time: time),
            restore: .init(status: "pending", time: time),
            health: .init(dynomiteAlive: true, storageAlive: true, overall: true), tokens: "100",
            storageEngine: "redis")
        #expect(ContractValues.unset(document).isEmpty)
        let json = try JSONDecoder().decode(
            OpenAPISpec.Value.self, from: DynomiteManagerRoutes.StatusDocument.encoder.encode(document))
        let problems = spec.problems(json, try spec.schema("DynomiteManagerStatus"), complete: true)
        #expect(problems.isEmpty, "\(problems)")
    }

    /// The checker itself: it must notice what the tests above rely on it to notice.
    @Test func theCheckerFindsMismatches() throws {
        let spec = try OpenAPISpec.load()
        let schema = try spec.schema("RingSnapshotList")
        func problems(_ json: String, complete: Bool = false) throws -> [String] {
            let value = try JSONDecoder().decode(OpenAPISpec.Value.self, from: Data(json.utf8))
            return spec.problems(value, schema, complete: complete)
        }
        #expect(try problems(#"{"cluster": "c", "snapshots": ["a"]}"#).isEmpty)
        #expect(try problems(#"{"cluster": "c", "snapshots": ["a"], "extra": 1}"#).count == 1)
        #expect(try problems(#"{"snapshots": []}"#).count == 1)
        #expect(try problems(#"{"cluster": 1, "snapshots": [true]}"#).count == 2)
        #expect(try problems(#"{"cluster": null, "snapshots": []}"#).count == 1)
        let job = try spec.schema("Job")
        var encoded = try ContractValues.json(ContractValues.job).object ?? [:]
        encoded["state"] = .string("paused")
        encoded["created_at"] = .string("yesterday")
        encoded["progress_bytes"] = .number(1.5)
        encoded["parameters"] = .object([:])
        #expect(spec.problems(.object(encoded), job).count == 3)
        // The three above, and each of the nine fields of JobParameters missing.
        #expect(spec.problems(.object(encoded), job, complete: true).count == 12)
        #expect(spec.problems(.null, try spec.requestSchema("POST", "/v1/backups")).count == 1)
        #expect(spec.problems(.object(["type": .null]), try spec.requestSchema("POST", "/v1/backups")).isEmpty)
    }
}

/// Contract values with every field set, and the checks that they are.
enum ContractValues {
    static let date = Date(timeIntervalSince1970: 1_795_000_000)

    static var result: JobResult {
        var result = JobResult(
            snapshot: "20261124T020000Z", location: "s3://bucket/prefix/prod/dc1/rack1/100/20261124T020000Z/",
            size: 5_000_000_000, storedSize: 1_000_000, keys: 351, source: "prod/dc1/rack1/100",
            steps: [.init(name: "download", seconds: 1.25)], notes: ["RDB format 12"], dryRun: false,
            outcome: "rolled back")
        result.verifications = [
            .init(
                snapshot: "20261124T020000Z", node: "prod/dc1/rack1/100", files: 1, bytes: 30,
                problems: ["dump.rdb: missing"], loadedKeys: ["db0": 3])
        ]
        return result
    }

    static var job: Job {
        var job = Job(
            id: "backup-20261124T020000Z-1", kind: .backup,
            parameters: JobParameters(
                type: .rdb, source: "prod/dc1/rack1/100", date: date, snapshot: "20261124T020000Z", dryRun: false,
                action: "resume", all: false, load: true),
            trigger: "api", createdAt: date)
        job.parameters.toTime = date
        job.state = .failed
        job.step = "upload dump.rdb"
        job.progressBytes = 10
        job.totalBytes = 20
        job.result = result
        job.error = "cannot connect to Redis"
        job.errorCode = .redis
        job.finishedAt = date.addingTimeInterval(2)
        job.seconds = 2.25
        return job
    }

    static var ringJob: RingJob {
        var outcome = RingReport.NodeOutcome(
            url: "http://10.0.0.1:8642", node: "dc1/rack1/100", state: .failed, error: "no")
        outcome.source = "prod/dc1/rack1/100"
        outcome.job = "restore-20261124T020000Z-1"
        outcome.step = "download"
        outcome.seconds = 0.5
        outcome.result = result
        var job = RingJob(id: "ring-backup-1", kind: .backup, trigger: "schedule", createdAt: date)
        job.state = .failed
        job.finishedAt = date
        job.report = RingReport(
            kind: .backup, cluster: "prod", snapshotID: "20261124T020000Z", succeeded: false,
            ringManifest: "prod/_ring/20261124T020000Z.json", dryRun: false, nodes: [outcome], error: "1 node failed")
        job.report?.toTime = date
        job.error = "1 node failed"
        job.errorCode = .peer
        return job
    }

    /// A status with every field set; the node state's parts have no public initialisers, so they are read from
    /// JSON as a peer would read them.
    static func status() throws -> NodeStatus {
        let holder = try APIJSON.decoder.decode(
            NodeLock.Holder.self,
            from: Data(#"{"operation": "backup", "pid": 7, "started_at": "2026-11-24T02:00:00Z"}"#.utf8))
        let restore = try APIJSON.decoder.decode(
            UnfinishedRestore.self,
            from: Data(
                """
                {"snapshot": "20261124T020000Z", "phase": "rolling_back", "started_at": "2026-11-24T02:00:00Z", "pid": 7,
                 "journal": "/data/.dynokeeper/restore-journal.json", "running": false, "last_error": "killed",
                 "files": [{"path": "dump.rdb", "previous": "/data/p/dump.rdb", "restored": "/data/r/dump.rdb"}],
                 "resolve": "run dynokeeper restore --resume"}
                """.utf8))
        var status = NodeStatus(
            version: "1.0.0", node: NodeIdentity(cluster: "prod", datacenter: "dc1", rack: "rack1", tokens: "100"),
            redis: .init(
                address: "127.0.0.1:6379", up: true, answers: true, loading: false, lastSave: date, version: "7.2.4"),
            dynomite: .init(up: true), currentJob: job, lastBackup: job, lastRestore: job,
            state: NodeState(
                stateFolder: "/data/.dynokeeper", operation: holder, unfinishedRestore: restore, problem: "none"),
            backupsEnabled: true, restoresEnabled: false, schedule: "daily 02:00", nextScheduledBackup: date,
            store: "s3://bucket/prefix", startedAt: date)
        status.instance = "6f1c0e8e-2b4a-4f2e-9a51-0c3d2e1f4a5b"
        status.restoreOnStart = "restored"
        status.pitr = try APIJSON.decoder.decode(
            StreamArchiver.Status.self,
            from: Data(
                """
                {"state": "following", "replication_id": "5f1c09a2", "received_offset": 120, "stored_offset": 100,
                 "stored_until": "2026-11-24T02:00:00Z", "lag_seconds": 1.5, "segments_stored": 3,
                 "base": "20261124T020000Z", "last_error": "the link broke"}
                """.utf8))
        return status
    }

    static var decision: SnapshotPruner.Decision {
        var decision = SnapshotPruner.Decision(
            snapshot: "archive: 3 segment(s)", node: "prod/dc1/rack1/100", keep: false, reasons: ["none"],
            storedSize: 10)
        decision.kind = "archive"
        return decision
    }

    /// A stored manifest with every field set, as `GET /v1/snapshots/{id}` shows it.
    static let manifestJSON = #"""
        {"compression": {"algorithm": "zstd", "level": 1},
         "files": [{"name": "dump.rdb", "object": "dump.rdb.zst", "sha256": "abc", "size": 30, "stored_size": 20}],
         "finished_at": "2026-11-24T02:00:05Z", "format": 1, "hostname": "node-1",
         "keyspace": {"db0": {"expires": 1, "keys": 3}}, "keyspace_exact": true, "method": "stream",
         "node": {"cluster": "prod", "datacenter": "dc1", "rack": "rack1", "tokens": "100"}, "rdb_version": 10,
         "redis": {"address": "127.0.0.1:6379", "version": "7.0.15", "aof_directory": "appendonlydir",
                   "aof_manifest": "appendonly.aof.manifest"},
         "snapshot_id": "20261124T020000Z", "started_at": "2026-11-24T02:00:00Z",
         "tool": {"name": "dynokeeper", "version": "0.2.0"}, "type": "rdb",
         "encryption": {"algorithm": "aes-256-gcm-chunked", "key_fingerprint": "0a1b2c", "chunk_size": 1048576}}
        """#

    static func snapshotDetail() throws -> SnapshotDetail {
        let manifest = try SnapshotManifest.decoder.decode(SnapshotManifest.self, from: Data(manifestJSON.utf8))
        let entry = SnapshotEntry(manifest: manifest, prefix: "prod/dc1/rack1/100/20261124T020000Z/", pinned: true)
        var detail = SnapshotDetail(entry, pin: .init(pinnedAt: date, note: "migration"))
        detail.snapshot.future = true
        return detail
    }

    static func json(_ value: some Encodable) throws -> OpenAPISpec.Value {
        try JSONDecoder().decode(OpenAPISpec.Value.self, from: APIJSON.encoder.encode(value))
    }

    /// The paths of optional fields left `nil` and of empty collections: a value for the checks above must set
    /// every field, so that a field added to a contract shows in its JSON.
    static func unset(_ value: Any, at path: String = "$") -> [String] {
        let mirror = Mirror(reflecting: value)
        switch mirror.displayStyle {
        case .optional:
            guard let wrapped = mirror.children.first else { return [path] }
            return unset(wrapped.value, at: path)
        case .collection, .dictionary, .set:
            if mirror.children.isEmpty { return ["\(path) (empty)"] }
            return mirror.children.enumerated().flatMap { unset($1.value, at: "\(path)[\($0)]") }
        case .tuple:
            return mirror.children.flatMap { unset($0.value, at: path) }
        case .struct, .class:
            if value is Date { return [] }
            return mirror.children.flatMap { unset($0.value, at: "\(path).\($0.label ?? "?")") }
        default:
            return []
        }
    }
}
