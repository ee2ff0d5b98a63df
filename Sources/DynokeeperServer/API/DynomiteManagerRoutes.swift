import DynokeeperEngine
import Foundation
import Hummingbird

/// Netflix Dynomite-manager's admin paths, with its semantics, so that its users' scripts keep working: each
/// call returns when the work is done, `200 ["ok"]` or `500`.
struct DynomiteManagerRoutes: Sendable {
    let node: NodeService
    /// Whether the GETs that act are served: behind the token, or without one when
    /// `server.dynomite_manager_tokenless` says so. A GET is what any web page can make a browser send (an image),
    /// with no header that tells it apart, so on a tokenless listener they are refused by default.
    let acting: Bool

    func register(on router: Router<BasicRequestContext>) {
        // Both roots: /REST/v1/admin (v1's web.xml) and /api/v1/admin (v2's Jersey module).
        for root: RouterPath in ["/REST/v1/admin", "/api/v1/admin"] { register(root, on: router) }
    }

    private func register(_ root: RouterPath, on router: Router<BasicRequestContext>) {
        let admin = router.group(root)
        act(admin, "/backup") {
            await self.waitForJob { try await self.node.startBackup(BackupRequest(), trigger: "dynomite-manager") }
        }
        act(admin, "/restore") {
            await self.waitForJob { try await self.node.startRestore(RestoreRequest(), trigger: "dynomite-manager") }
        }
        act(admin, "/takesnapshot") {
            await self.waitForJob { try await self.node.startSnapshot(trigger: "dynomite-manager") }
        }
        act(admin, "/start") { await self.run { try await self.node.start(.dynomite) } }
        act(admin, "/stop") { await self.run { try await self.node.stop(.dynomite) } }
        act(admin, "/startstorageprocess") { await self.run { try await self.node.start(.redis) } }
        act(admin, "/stopstorageprocess") { await self.run { try await self.node.stop(.redis) } }
        admin.get("/status") { _, _ in try await self.status() }
    }

    /// A GET that acts, refused (403) unless ``acting``.
    private func act(
        _ group: RouterGroup<BasicRequestContext>, _ path: RouterPath,
        _ work: @escaping @Sendable () async -> Response
    ) {
        group.get(path) { _, _ in
            guard self.acting else {
                return self.plain(
                    self.errorBody(
                        "Dynomite-manager's admin GETs that act need a token: set server.token_file and send Authorization: Bearer <token>, or set server.dynomite_manager_tokenless: true to serve them on loopback without one (any web page opened on this host could then call them)",
                        code: "forbidden"),
                    status: .forbidden)
            }
            return await work()
        }
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

    func errorBody(_ message: String, code: String = "failed") -> String {
        let data = (try? APIJSON.encoder.encode(ErrorBody(code: code, message: message))) ?? Data()
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
        // A dry run restored nothing: Dynomite-manager's status would call it completed.
        let restore =
            current?.kind == .restore && current?.parameters.dryRun != true
            ? current : await runner.lastPerformed(.restore)
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
