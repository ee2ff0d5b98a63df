import Foundation
import Hummingbird

/// Netflix Dynomite-manager's admin paths, with its semantics, so that its users' scripts keep working: each
/// call returns when the work is done, `200 ["ok"]` or `500`.
struct DynomiteManagerRoutes: Sendable {
    let operations: NodeOperations

    func register(on router: Router<BasicRequestContext>) {
        let admin = router.group("/REST/v1/admin")
        admin.get("/backup") { _, _ in
            await self.waitForJob { try await self.operations.startBackup(type: nil, trigger: "dynomite-manager") }
        }
        admin.get("/restore") { _, _ in
            await self.waitForJob { try await self.operations.startRestore(.init(), trigger: "dynomite-manager") }
        }
        admin.get("/takesnapshot") { _, _ in
            await self.waitForJob { try await self.operations.startSnapshot(trigger: "dynomite-manager") }
        }
        admin.get("/start") { _, _ in await self.run { try await self.operations.start(.dynomite) } }
        admin.get("/stop") { _, _ in await self.run { try await self.operations.stop(.dynomite) } }
        admin.get("/startstorageprocess") { _, _ in await self.run { try await self.operations.start(.redis) } }
        admin.get("/stopstorageprocess") { _, _ in await self.run { try await self.operations.stop(.redis) } }
        admin.get("/status") { _, _ in try await self.status() }
    }

    static let ok = "[\"ok\"]"

    func plain(_ body: String, status: HTTPResponse.Status) -> Response {
        let buffer = ByteBuffer(string: body)
        return Response(
            status: status, headers: [.contentType: "application/json", .contentLength: String(buffer.readableBytes)],
            body: .init(byteBuffer: buffer))
    }

    func waitForJob(_ start: () async throws -> Job) async -> Response {
        do {
            let job = try await start()
            let finished = await operations.runner.wait(job.id)
            return finished?.state == .succeeded
                ? plain(Self.ok, status: .ok) : plain(errorBody(finished?.error ?? "failed"), status: .internalServerError)
        } catch {
            return plain(errorBody("\(error)"), status: .internalServerError)
        }
    }

    func run(_ work: () async throws -> Void) async -> Response {
        do {
            try await work()
            return plain(Self.ok, status: .ok)
        } catch {
            operations.logger.error("Dynomite-manager admin call failed: \(error)")
            return plain(errorBody("\(error)"), status: .internalServerError)
        }
    }

    func errorBody(_ message: String) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: ["error": ["code": "failed", "message": message]])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// Dynomite-manager's status document: backup and restore status and time, health, tokens.
    func status() async throws -> Response {
        func section(_ job: Job?) -> [String: Any] {
            guard let job else { return ["status": "not started"] }
            var result: [String: Any] = ["status": job.isFinished ? (job.state == .succeeded ? "completed" : "unsuccessful") : "pending"]
            if let time = job.startedAt { result["time"] = ISO8601DateFormatter().string(from: time) }
            return result
        }
        let runner = operations.runner
        let current = await runner.current()
        let backup = current?.kind == .backup ? current : await runner.lastFinished(.backup)
        let restore = current?.kind == .restore ? current : await runner.lastFinished(.restore)
        let storageAlive = await operations.redisState() != nil
        let dynomite = await operations.dynomiteUp()
        let dynomiteAlive = dynomite ?? false
        let document: [String: Any] = [
            "warmup": ["status": "not started"],
            "backup": section(backup),
            "restore": section(restore),
            "health": [
                "dynomiteAlive": dynomiteAlive, "storageAlive": storageAlive,
                "Overall": storageAlive && (dynomite ?? true),
            ],
            "tokens": operations.node.identity.tokens,
            "storage engine": "redis",
        ]
        return try JSON.response(object: document)
    }
}
