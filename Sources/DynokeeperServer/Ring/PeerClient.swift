import AsyncHTTPClient
public import DynokeeperConfiguration
import Foundation
public import NIOCore
import NIOHTTP1

/// Talks to the dynokeepers of the other nodes (and this one) over their REST API, with the shared bearer
/// token, timeouts and retries. Requests and answers are typed: the same `Codable` types the API encodes.
public final class PeerClient: Sendable {
    let client: HTTPClient
    let token: String?
    let timeout: TimeAmount
    let attempts: Int

    /// - Parameters:
    ///   - token: The bearer token every dynokeeper of the ring shares (`server.token`).
    ///   - timeout: How long one call may take.
    ///   - attempts: Tries for calls that fail to connect or get a 5xx.
    public init(token: String?, timeout: TimeAmount = .seconds(30), attempts: Int = 3) {
        self.client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup)
        self.token = token
        self.timeout = timeout
        self.attempts = attempts
    }

    public func shutdown() async {
        try? await client.shutdown()
    }

    /// What a peer says of itself in `/v1/status` (the part the ring needs).
    public struct PeerStatus: Codable, Sendable {
        public var node: NodeIdentity
    }

    /// `POST /v1/backups`, as a ring coordinator sends it.
    struct BackupRequest: Encodable, Sendable {
        var type: DynokeeperConfiguration.Backup.PersistenceType
        var snapshotId: String
    }

    /// `POST /v1/restores`, as a ring coordinator sends it.
    struct RestoreRequest: Encodable, Sendable {
        var snapshot: String
        var sourceCluster: String
        var sourceDatacenter: String
        var sourceRack: String
        var dryRun: Bool
    }

    /// The API's error body, `{"error": {"code", "message"}}`.
    struct ErrorBody: Decodable {
        struct Detail: Decodable {
            var code: String
            var message: String
        }

        var error: Detail
    }

    /// A call's outcome: its status and body.
    struct Reply {
        var status: UInt
        var body: ByteBuffer

        func decode<T: Decodable>(_ type: T.Type) throws -> T { try PeerClient.decoder.decode(type, from: body) }

        var errorMessage: String { (try? decode(ErrorBody.self).error.message) ?? "HTTP \(status)" }
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()

    func call(_ method: HTTPMethod, _ url: String, body: (any Encodable & Sendable)? = nil) async throws -> Reply {
        let payload = try body.map { ByteBuffer(bytes: try Self.encoder.encode($0)) }
        var lastError: any Error = PeerError("no attempt")
        for attempt in 1...max(1, attempts) {
            do {
                var request = HTTPClientRequest(url: url)
                request.method = method
                if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
                if let payload {
                    request.headers.add(name: "Content-Type", value: "application/json")
                    request.body = .bytes(payload)
                }
                let response = try await client.execute(request, timeout: timeout)
                let reply = Reply(status: response.status.code, body: try await response.body.collect(upTo: 16 << 20))
                if reply.status >= 500 && attempt < attempts {
                    lastError = PeerError("\(url) answered \(reply.status): \(reply.errorMessage)")
                    try await Task.sleep(for: .milliseconds(200 * attempt))
                    continue
                }
                return reply
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                lastError = PeerError("cannot reach \(url): \(error)")
                if attempt < attempts { try await Task.sleep(for: .milliseconds(200 * attempt)) }
            }
        }
        throw lastError
    }

    public func status(_ base: String) async throws -> PeerStatus {
        let reply = try await call(.GET, base + "/v1/status")
        guard reply.status == 200 else { throw PeerError("\(base)/v1/status answered \(reply.status): \(reply.errorMessage)") }
        do {
            return try reply.decode(PeerStatus.self)
        } catch {
            throw PeerError("\(base)/v1/status did not answer as a dynokeeper does: \(error)")
        }
    }

    /// Starts a job on a peer (`POST path`), returning its id.
    func startJob(_ base: String, path: String, body: any Encodable & Sendable) async throws -> String {
        let reply = try await call(.POST, base + path, body: body)
        guard reply.status == 202, let job = try? reply.decode(Job.self) else {
            throw PeerError("\(base)\(path) answered \(reply.status): \(reply.errorMessage)")
        }
        return job.id
    }

    /// Polls a peer's job until it has finished.
    func waitForJob(_ base: String, id: String, timeout: Duration, pollInterval: Duration) async throws -> Job {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let reply = try await call(.GET, base + "/v1/jobs/" + id)
            guard reply.status == 200 else { throw PeerError("\(base)/v1/jobs/\(id) answered \(reply.status): \(reply.errorMessage)") }
            let job: Job
            do { job = try reply.decode(Job.self) } catch { throw PeerError("\(base)/v1/jobs/\(id): unexpected answer: \(error)") }
            if job.isFinished { return job }
            try await Task.sleep(for: pollInterval)
        }
        throw PeerError("job \(id) on \(base) did not finish within \(timeout)")
    }
}

/// A peer could not be reached or refused a call.
public struct PeerError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
