import AsyncHTTPClient
public import DynokeeperConfiguration
import Foundation
public import NIOCore
import NIOHTTP1

/// Talks to the dynokeepers of the other nodes (and this one) over their REST API, with the shared bearer
/// token, timeouts and retries.
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

    /// What a peer says of itself in `/v1/status`.
    public struct PeerStatus: Decodable, Sendable {
        public var node: NodeIdentity
    }

    /// A call's outcome: its status and JSON body.
    struct Reply {
        var status: UInt
        var json: [String: Any]
        var errorMessage: String { ((json["error"] as? [String: Any])?["message"] as? String) ?? "HTTP \(status)" }
    }

    func call(_ method: HTTPMethod, _ url: String, body: [String: any Sendable]? = nil) async throws -> Reply {
        var lastError: any Error = PeerError("no attempt")
        for attempt in 1...max(1, attempts) {
            do {
                var request = HTTPClientRequest(url: url)
                request.method = method
                if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
                if let body {
                    request.headers.add(name: "Content-Type", value: "application/json")
                    request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body)))
                }
                let response = try await client.execute(request, timeout: timeout)
                let bytes = try await response.body.collect(upTo: 16 << 20)
                let json = (try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView))) as? [String: Any] ?? [:]
                let reply = Reply(status: response.status.code, json: json)
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
        let data = try JSONSerialization.data(withJSONObject: reply.json)
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(PeerStatus.self, from: data)
    }

    /// Starts a job on a peer (`POST path`), returning its id.
    func startJob(_ base: String, path: String, body: [String: any Sendable]) async throws -> String {
        let reply = try await call(.POST, base + path, body: body)
        guard reply.status == 202, let id = reply.json["id"] as? String else {
            throw PeerError("\(base)\(path) answered \(reply.status): \(reply.errorMessage)")
        }
        return id
    }

    /// Polls a peer's job until it has finished.
    func waitForJob(_ base: String, id: String, timeout: Duration, pollInterval: Duration) async throws -> [String: Any] {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let reply = try await call(.GET, base + "/v1/jobs/" + id)
            guard reply.status == 200 else { throw PeerError("\(base)/v1/jobs/\(id) answered \(reply.status): \(reply.errorMessage)") }
            if let state = reply.json["state"] as? String, state == "succeeded" || state == "failed" { return reply.json }
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
