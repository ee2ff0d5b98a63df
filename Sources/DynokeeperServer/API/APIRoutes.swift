import DynokeeperConfiguration
import DynokeeperEngine
import Foundation
import Hummingbird
import Logging

/// The REST API: dynokeeper's own `/v1` endpoints, Dynomite-manager's `/REST/v1/admin` paths, `/health` and
/// `/metrics`.
struct APIRoutes: Sendable {
    let operations: NodeOperations
    let clock: any SchedulerClock
    let startedAt: Date

    func register(on router: Router<BasicRequestContext>) {
        router.get("/health") { _, _ in try JSON.response(["status": "ok"]) }
        router.get("/metrics") { _, _ in try await self.metrics() }

        let v1 = router.group("/v1")
        v1.post("/backups") { request, _ in
            let body = try await RequestBody.read(request, allowed: ["type", "snapshot_id"])
            let job = try await self.conflicts {
                try await self.operations.startBackup(type: try body.type(), snapshotID: try body.snapshot("snapshot_id"), trigger: "api")
            }
            return try JSON.response(job, status: .accepted)
        }
        v1.post("/restores") { request, _ in
            let body = try await RequestBody.read(
                request, allowed: ["date", "source_cluster", "source_datacenter", "source_rack", "snapshot", "dry_run", "force"])
            var restore = NodeOperations.RestoreRequest(
                date: try body.date(), snapshotID: try body.snapshot(), sourceCluster: try body.name("source_cluster"),
                dryRun: try body.bool("dry_run") ?? false)
            restore.sourceDatacenter = try body.name("source_datacenter")
            restore.sourceRack = try body.name("source_rack")
            restore.force = try body.bool("force") ?? false
            let job = try await self.conflicts { try await self.operations.startRestore(restore, trigger: "api") }
            return try JSON.response(job, status: .accepted)
        }
        // A restore that did not finish (see `unfinished_restore` in /v1/status): finish it, or undo it.
        v1.post("/restores/resume") { request, _ in
            _ = try await RequestBody.read(request, allowed: [])
            let job = try await self.conflicts { try await self.operations.startRestoreRecovery(rollback: false, trigger: "api") }
            return try JSON.response(job, status: .accepted)
        }
        v1.post("/restores/rollback") { request, _ in
            _ = try await RequestBody.read(request, allowed: [])
            let job = try await self.conflicts { try await self.operations.startRestoreRecovery(rollback: true, trigger: "api") }
            return try JSON.response(job, status: .accepted)
        }
        v1.get("/jobs") { _, _ in try JSON.response(["jobs": await self.operations.runner.list()]) }
        v1.get("/jobs/:id") { _, context in
            let id = try context.parameters.require("id")
            guard let job = await self.operations.runner.job(id) else {
                throw APIError(status: .notFound, code: "not_found", message: "no job \(id)")
            }
            return try JSON.response(job)
        }
        v1.get("/snapshots") { request, _ in try await self.snapshots(request) }
        v1.get("/status") { _, _ in try await self.status() }

        let ring = v1.group("/ring")
        ring.post("/backups") { request, _ in
            let body = try await RequestBody.read(request, allowed: ["type"])
            let job = try await self.conflicts { try await self.operations.startRingBackup(type: try body.type(), trigger: "api") }
            return try JSON.response(job, status: .accepted)
        }
        ring.post("/restores") { request, _ in
            let body = try await RequestBody.read(
                request, allowed: ["date", "snapshot", "source_cluster", "dry_run", "rack_by_rack", "mapping"])
            var restore = RingCoordinator.RestoreRequest(
                date: try body.date(), snapshotID: try body.snapshot(), sourceCluster: try body.name("source_cluster"))
            restore.dryRun = try body.bool("dry_run") ?? false
            restore.rackByRack = try body.bool("rack_by_rack") ?? false
            restore.mapping = try body.stringMap("mapping") ?? [:]
            let job = try await self.conflicts { try await self.operations.startRingRestore(restore, trigger: "api") }
            return try JSON.response(job, status: .accepted)
        }
        ring.get("/jobs") { _, _ in try JSON.response(["jobs": await self.operations.ring.list()]) }
        ring.get("/jobs/:id") { _, context in
            let id = try context.parameters.require("id")
            guard let job = await self.operations.ring.job(id) else {
                throw APIError(status: .notFound, code: "not_found", message: "no ring job \(id)")
            }
            return try JSON.response(job)
        }
        ring.get("/snapshots") { request, _ in
            let configured = await self.operations.holder.current.cluster
            let cluster = request.uri.queryParameters["cluster"].map(String.init) ?? configured
            let ids = try await RingCatalog(store: self.operations.store, logger: self.operations.logger).ids(cluster: cluster)
            return try JSON.response(RingSnapshots(cluster: cluster, snapshots: ids.map(\.text)))
        }

        DynomiteManagerRoutes(operations: operations).register(on: router)
    }

    /// Runs a job request, turning a job conflict, a busy node or an unfinished restore into 409 and a refused
    /// restore into 403.
    func conflicts<T>(_ start: () async throws -> T) async throws -> T {
        do {
            return try await start()
        } catch let conflict as JobConflict {
            throw APIError(status: .conflict, code: "job_running", message: conflict.message)
        } catch let busy as NodeBusyError {
            throw APIError(status: .conflict, code: "busy", message: busy.description)
        } catch let unfinished as UnfinishedRestoreError {
            throw APIError(status: .conflict, code: "unfinished_restore", message: unfinished.description)
        } catch let none as NoUnfinishedRestoreError {
            throw APIError(status: .notFound, code: "no_unfinished_restore", message: none.description)
        } catch let error as ConfigurationError {
            throw APIError(status: .forbidden, code: "refused", message: error.message)
        }
    }

    func snapshots(_ request: Request) async throws -> Response {
        let query = request.uri.queryParameters
        for (name, _) in query where !["cluster", "all_nodes"].contains(String(name)) {
            throw APIError.badRequest("unknown query parameter \(name); expected cluster, all_nodes")
        }
        let allNodes: Bool
        switch query["all_nodes"].map(String.init) {
        case nil, "false"?: allNodes = false
        case "true"?: allNodes = true
        case let other?: throw APIError.badRequest("all_nodes must be true or false, not \(other)")
        }
        var node = operations.node.identity
        if let cluster = query["cluster"].map(String.init) {
            guard !cluster.isEmpty, !cluster.contains("/") else { throw APIError.badRequest("cluster must be a name") }
            node.cluster = cluster
        }
        let catalog = SnapshotCatalog(store: operations.store, logger: operations.logger)
        let entries = allNodes ? try await catalog.snapshots(cluster: node.cluster) : try await catalog.snapshots(of: node)
        return try JSON.response(["snapshots": entries.map(SnapshotSummary.init)])
    }

    func status() async throws -> Response {
        let configuration = await operations.holder.current
        let redis = await operations.redisState()
        let dynomite = await operations.dynomiteUp()
        let backup = await operations.runner.lastFinished(.backup)
        let restore = await operations.runner.lastFinished(.restore)
        let state = await operations.nodeState()
        let status = Status(
            version: DynokeeperVersion.current, node: operations.node.identity,
            redis: .init(
                address: "\(operations.node.redisHost):\(operations.node.redisPort)", up: redis != nil, loading: redis?.loading,
                lastSave: redis?.lastSave, version: redis?.version),
            dynomite: dynomite.map { .init(up: $0) },
            currentJob: await operations.runner.current(), lastBackup: backup, lastRestore: restore,
            nodeOperation: state.operation, unfinishedRestore: state.unfinishedRestore, stateProblem: state.problem,
            backupsEnabled: configuration.backup.enabled, restoresEnabled: configuration.restore.enabled,
            schedule: configuration.backup.schedule.description,
            nextScheduledBackup: BackupScheduler.nextRun(configuration, after: clock.now()),
            store: operations.store.location, startedAt: startedAt)
        return try JSON.response(status)
    }

    func metrics() async throws -> Response {
        operations.metrics.processes(redisUp: await operations.redisState() != nil, dynomiteUp: await operations.dynomiteUp())
        let state = await operations.nodeState()
        operations.metrics.unfinishedRestore(state.unfinishedRestore.map { !$0.running } ?? false)
        var buffer = ByteBuffer(string: operations.metrics.render())
        if buffer.readableBytes == 0 { buffer.writeString("\n") }
        return Response(
            status: .ok,
            headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .contentLength: String(buffer.readableBytes)],
            body: .init(byteBuffer: buffer))
    }
}

/// `GET /v1/status`.
struct Status: Encodable {
    struct Redis: Encodable {
        var address: String
        var up: Bool
        var loading: Bool?
        var lastSave: Date?
        var version: String?
    }

    struct Dynomite: Encodable { var up: Bool }

    var version: String
    var node: NodeIdentity
    var redis: Redis
    var dynomite: Dynomite?
    var currentJob: Job?
    var lastBackup: Job?
    var lastRestore: Job?
    /// The operation holding the node lock (from this daemon or the CLI).
    var nodeOperation: NodeLock.Holder?
    /// A restore that did not finish: backups are refused until it is resumed or rolled back.
    var unfinishedRestore: UnfinishedRestore?
    var stateProblem: String?
    var backupsEnabled: Bool
    var restoresEnabled: Bool
    var schedule: String
    var nextScheduledBackup: Date?
    var store: String
    var startedAt: Date
}

/// `GET /v1/ring/snapshots`.
struct RingSnapshots: Encodable {
    var cluster: String
    var snapshots: [String]
}
