import DynokeeperConfiguration
import DynokeeperEngine
import DynokeeperRing
import Foundation
import Hummingbird
import Logging

/// The REST API: dynokeeper's own `/v1` endpoints, Dynomite-manager's `/REST/v1/admin` paths, `/health` and
/// `/metrics`.
struct APIRoutes: Sendable {
    let node: NodeService
    let ring: RingService
    let metrics: DynokeeperMetrics
    let clock: any SchedulerClock
    let startedAt: Date
    /// Whether Dynomite-manager's admin GETs that act are served (``DynomiteManagerRoutes/acting``).
    var dynomiteManagerActing = true

    func register(on router: Router<BasicRequestContext>) {
        router.get("/health") { _, _ in try JSON.response(["status": "ok"]) }
        router.get("/metrics") { _, _ in try await self.metricsText() }

        let v1 = router.group("/v1")
        v1.post("/backups") { request, _ in
            let backup = try BackupRequest(try await RequestBody.read(request, allowed: BackupRequest.fields))
            // An id ahead of this node's clock would be the newest snapshot for as long as it is in the future (a
            // hand-made id, or a ring coordinator whose clock runs fast).
            if let id = backup.snapshotID, id.date > self.clock.now().addingTimeInterval(300) {
                throw APIError.badRequest(
                    "snapshot_id \(id) is more than 5 minutes ahead of this node's clock (\(self.clock.now().formatted(.iso8601))): check the clocks of the ring's nodes"
                )
            }
            return try JSON.response(try await self.node.startBackup(backup, trigger: "api"), status: .accepted)
        }
        v1.post("/restores") { request, _ in
            var body = try await RequestBody.read(request, allowed: RestoreRequest.fields)
            body.timeZone = await self.node.holder.current.restore.timeZone
            let restore = try RestoreRequest(body)
            return try JSON.response(try await self.node.startRestore(restore, trigger: "api"), status: .accepted)
        }
        // A restore that did not finish (see `unfinished_restore` in /v1/status): finish it, or undo it.
        v1.post("/restores/resume") { request, _ in
            _ = try await RequestBody.read(request, allowed: [])
            return try JSON.response(
                try await self.node.startRestoreRecovery(rollback: false, trigger: "api"), status: .accepted)
        }
        v1.post("/restores/rollback") { request, _ in
            _ = try await RequestBody.read(request, allowed: [])
            return try JSON.response(
                try await self.node.startRestoreRecovery(rollback: true, trigger: "api"), status: .accepted)
        }
        v1.get("/jobs") { _, _ in try JSON.response(JobList(jobs: await self.node.runner.list())) }
        v1.get("/jobs/:id") { _, context in
            let id = try context.parameters.require("id")
            guard let job = await self.node.runner.job(id) else { throw APIError.notFound("no job \(id)") }
            return try JSON.response(job)
        }
        v1.get("/snapshots") { request, _ in try await self.snapshots(request) }
        v1.get("/snapshots/:id") { _, context in
            let entry = try await self.snapshot(try context.parameters.require("id"))
            let pin = try await SnapshotPins(store: self.node.store).pin(of: entry)
            return try JSON.response(SnapshotDetail(entry, pin: pin))
        }
        v1.post("/snapshots/:id/pin") { request, context in
            let body = try await RequestBody.read(request, allowed: ["note"])
            let entry = try await self.snapshot(try context.parameters.require("id"))
            let pin = try await SnapshotPins(store: self.node.store).pin(entry, note: try body.string("note"))
            return try JSON.response(
                PinState(snapshot: entry.id.text, pinned: true, pinnedAt: pin.pinnedAt, note: pin.note))
        }
        v1.delete("/snapshots/:id/pin") { _, context in
            let entry = try await self.snapshot(try context.parameters.require("id"))
            try await SnapshotPins(store: self.node.store).unpin(entry)
            return try JSON.response(PinState(snapshot: entry.id.text, pinned: false))
        }
        v1.post("/verifications") { request, _ in
            let verification = try VerificationRequest(
                try await RequestBody.read(request, allowed: VerificationRequest.fields))
            return try JSON.response(
                try await self.node.startVerification(verification, trigger: "api"), status: .accepted)
        }
        v1.post("/prune") { request, _ in
            let prune = try PruneRequest(try await RequestBody.read(request, allowed: PruneRequest.fields))
            let policy = try prune.policy(await self.node.holder.current.retention)
            let decisions = try await SnapshotPruner(store: self.node.store, logger: self.node.logger).run(
                self.node.node.identity, policy: policy, dryRun: prune.dryRun)
            return try JSON.response(PruneReport(dryRun: prune.dryRun, snapshots: decisions))
        }
        v1.get("/status") { _, _ in try JSON.response(try await self.status()) }

        let ring = v1.group("/ring")
        ring.post("/backups") { request, _ in
            let backup = try RingBackupRequest(try await RequestBody.read(request, allowed: RingBackupRequest.fields))
            return try JSON.response(try await self.ring.startBackup(backup, trigger: "api"), status: .accepted)
        }
        ring.post("/restores") { request, _ in
            var body = try await RequestBody.read(request, allowed: RingRestoreRequest.fields)
            body.timeZone = await self.node.holder.current.restore.timeZone
            let restore = try RingRestoreRequest(body)
            return try JSON.response(try await self.ring.startRestore(restore, trigger: "api"), status: .accepted)
        }
        ring.get("/jobs") { _, _ in try JSON.response(RingJobList(jobs: await self.ring.list())) }
        ring.get("/jobs/:id") { _, context in
            let id = try context.parameters.require("id")
            guard let job = await self.ring.job(id) else { throw APIError.notFound("no ring job \(id)") }
            return try JSON.response(job)
        }
        ring.get("/snapshots") { request, _ in
            let configured = await self.node.holder.current.cluster
            for (name, _) in request.uri.queryParameters where name != "cluster" {
                throw APIError.badRequest("unknown query parameter \(name); expected cluster")
            }
            let cluster = request.uri.queryParameters["cluster"].map(String.init) ?? configured
            guard RequestBody.isName(cluster) else { throw APIError.badRequest("cluster must be a name") }
            let ids = try await RingCatalog(store: self.node.store, logger: self.node.logger).ids(cluster: cluster)
            return try JSON.response(RingSnapshotList(cluster: cluster, snapshots: ids.map(\.text)))
        }

        DynomiteManagerRoutes(node: node, acting: dynomiteManagerActing).register(on: router)
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
        var identity = node.node.identity
        if let cluster = query["cluster"].map(String.init) {
            guard RequestBody.isName(cluster) else { throw APIError.badRequest("cluster must be a name") }
            identity.cluster = cluster
        }
        let catalog = SnapshotCatalog(store: node.store, logger: node.logger)
        let entries =
            allNodes
            ? try await catalog.snapshots(cluster: identity.cluster) : try await catalog.snapshots(of: identity)
        let now = clock.now()
        return try JSON.response(SnapshotList(snapshots: entries.map { SnapshotSummary($0, now: now) }))
    }

    /// One of this node's complete snapshots, by id.
    func snapshot(_ text: String) async throws -> SnapshotEntry {
        try await SnapshotCatalog(store: node.store, logger: node.logger).snapshot(
            try SnapshotID.parse(text, as: "the snapshot id"), of: node.node.identity)
    }

    func status() async throws -> NodeStatus {
        await node.status(now: clock.now(), startedAt: startedAt)
    }

    func metricsText() async throws -> Response {
        metrics.processes(redisUp: await node.redisState().answers, dynomiteUp: await node.dynomiteUp())
        let state = await node.nodeState()
        metrics.unfinishedRestore(state.unfinishedRestore.map { !$0.running } ?? false)
        if let archiver = node.archiver { metrics.pointInTimeLag(seconds: await archiver.status.lagSeconds ?? -1) }
        var buffer = ByteBuffer(string: metrics.render())
        if buffer.readableBytes == 0 { buffer.writeString("\n") }
        return Response(
            status: .ok,
            headers: [
                .contentType: "text/plain; version=0.0.4; charset=utf-8", .contentLength: String(buffer.readableBytes),
            ],
            body: .init(byteBuffer: buffer))
    }
}

/// `GET /v1/jobs`.
struct JobList: Codable {
    var jobs: [Job]
}

/// `GET /v1/ring/jobs`.
struct RingJobList: Codable {
    var jobs: [RingJob]
}

/// `GET /v1/snapshots`.
struct SnapshotList: Encodable {
    var snapshots: [SnapshotSummary]
}
