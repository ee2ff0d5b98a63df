import DynokeeperEngine
import Foundation
import Hummingbird

/// Netflix Dynomite-manager's admin paths, with its semantics, so that its users' scripts keep working: each
/// call returns when the work is done, `200 ["ok"]` or `500`.
struct DynomiteManagerRoutes: Sendable {
    let node: NodeService

    func register(on router: Router<BasicRequestContext>) {
        let admin = router.group("/REST/v1/admin")
        admin.get("/backup") { _, _ in
            await self.waitForJob { try await self.node.startBackup(BackupRequest(), trigger: "dynomite-manager") }
        }
        admin.get("/restore") { _, _ in
            await self.waitForJob { try await self.node.startRestore(RestoreRequest(), trigger: "dynomite-manager") }
        }
        admin.get("/takesnapshot") { _, _ in
            await self.waitForJob { try await self.node.startSnapshot(trigger: "dynomite-manager") }
        }
        admin.get("/start") { _, _ in await self.run { try await self.node.start(.dynomite) } }
        admin.get("/stop") { _, _ in await self.run { try await self.node.stop(.dynomite) } }
        admin.get("/startstorageprocess") { _, _ in await self.run { try await self.node.start(.redis) } }
        admin.get("/stopstorageprocess") { _, _ in await self.run { try await self.node.stop(.redis) } }
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
            let finished = await node.runner.wait(job.id)
            return finished?.state == .succeeded
                ? plain(Self.ok, status: .ok)
                : plain(errorBody(finished?.error ?? "failed"), status: .internalServerError)
        } catch {
            return plain(errorBody("\(error)"), status: .internalServerError)
        }
    }

    func run(_ work: () async throws -> Void) async -> Response {
        do {
            try await work()
            return plain(Self.ok, status: .ok)
        } catch {
            node.logger.error("Dynomite-manager admin call failed: \(error)")
            return plain(errorBody("\(error)"), status: .internalServerError)
        }
    }

    func errorBody(_ message: String) -> String {
        let data = (try? APIJSON.encoder.encode(ErrorBody(code: "failed", message: message))) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// Dynomite-manager's status document: backup and restore status and time, health, tokens. Its keys are
    /// Dynomite-manager's, spelled as it spells them.
    struct StatusDocument: Encodable {
        struct Section: Encodable {
            var status: String
            var time: Date?
        }

        struct Health: Encodable {
            var dynomiteAlive: Bool
            var storageAlive: Bool
            var overall: Bool

            enum CodingKeys: String, CodingKey {
                case dynomiteAlive, storageAlive
                case overall = "Overall"
            }
        }

        var warmup = Section(status: "not started")
        var backup: Section
        var restore: Section
        var health: Health
        var tokens: String
        var storageEngine = "redis"

        enum CodingKeys: String, CodingKey {
            case warmup, backup, restore, health, tokens
            case storageEngine = "storage engine"
        }

        static let encoder: JSONEncoder = {
            let encoder = JSONEncoder()
            encoder.dateEncodingStrategy = .iso8601
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            return encoder
        }()
    }

    func status() async throws -> Response {
        func section(_ job: Job?) -> StatusDocument.Section {
            guard let job else { return .init(status: "not started") }
            let status = job.isFinished ? (job.state == .succeeded ? "completed" : "unsuccessful") : "pending"
            return .init(status: status, time: job.startedAt)
        }
        let runner = node.runner
        let current = await runner.current()
        let backup = current?.kind == .backup ? current : await runner.lastFinished(.backup)
        let restore = current?.kind == .restore ? current : await runner.lastFinished(.restore)
        let storageAlive = await node.redisState().answers
        let dynomite = await node.dynomiteUp()
        let document = StatusDocument(
            backup: section(backup), restore: section(restore),
            health: .init(
                dynomiteAlive: dynomite ?? false, storageAlive: storageAlive,
                overall: storageAlive && (dynomite ?? true)),
            tokens: node.node.identity.tokens)
        var buffer = ByteBuffer(bytes: try StatusDocument.encoder.encode(document))
        buffer.writeString("\n")
        return plain(String(buffer: buffer), status: .ok)
    }
}
