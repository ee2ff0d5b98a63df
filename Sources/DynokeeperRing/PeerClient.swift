import AsyncHTTPClient
package import DynokeeperConfiguration
package import DynokeeperEngine
import Foundation
package import NIOCore
import NIOHTTP1
package import NIOSSL

/// Talks to the dynokeepers of the other nodes (and this one) over their REST API, with the shared bearer
/// token, timeouts and retries. Requests and answers are typed: the same `Codable` types the API encodes.
package final class PeerClient: Sendable {
    let client: HTTPClient
    let token: String?
    let timeout: TimeAmount
    let attempts: Int

    /// - Parameters:
    ///   - token: The bearer token every dynokeeper of the ring shares (`server.token`).
    ///   - timeout: How long one call may take.
    ///   - attempts: Tries for calls that fail to connect or get a 5xx.
    package init(
        token: String?, timeout: TimeAmount = .seconds(30), attempts: Int = 3, tls: TLSConfiguration? = nil
    ) {
        var configuration = HTTPClient.Configuration()
        if let tls { configuration.tlsConfiguration = tls }
        // A peer that refuses connections is reported at once (our attempts retry), not after the whole timeout.
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout = .init(connect: .seconds(5))
        self.client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        self.token = token
        self.timeout = timeout
        self.attempts = attempts
    }

    /// The client a node's configuration describes: its token, `https://` peers checked against `ring.ca_file` (else
    /// the system's authorities), and the node's own certificate (`server.tls_cert_file`) presented to peers that
    /// require client certificates.
    /// - Throws: `ConfigurationError` naming a file that does not load.
    package static func make(_ configuration: DynokeeperConfiguration) throws -> PeerClient {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        if let caFile = configuration.ring.caFile {
            guard (try? NIOSSLCertificate.fromPEMFile(caFile))?.isEmpty == false else {
                throw ConfigurationError("ring.ca_file \(caFile) is not a PEM certificate file this user can read")
            }
            tls.trustRoots = .file(caFile)
        }
        if let cert = configuration.server.tlsCertFile, let key = configuration.server.tlsKeyFile {
            do {
                tls.certificateChain = try NIOSSLCertificate.fromPEMFile(cert).map { .certificate($0) }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
            } catch {
                throw ConfigurationError(
                    "server.tls_cert_file \(cert) and server.tls_key_file \(key) do not load as a PEM certificate and key"
                )
            }
        }
        return PeerClient(token: configuration.server.token, tls: tls)
    }

    package func shutdown() async {
        try? await client.shutdown()
    }

    /// A call's outcome: its status and body.
    struct Reply {
        var status: UInt
        var body: ByteBuffer

        func decode<T: Decodable>(_ type: T.Type) throws -> T {
            try APIJSON.decoder.decode(type, from: Data(body.readableBytesView))
        }

        var errorMessage: String { (try? decode(ErrorBody.self).error.message) ?? "HTTP \(status)" }
    }

    func call(_ method: HTTPMethod, _ url: String, body: (any Encodable & Sendable)? = nil) async throws -> Reply {
        let payload = try body.map { ByteBuffer(bytes: try APIJSON.encoder.encode($0)) }
        var lastError: any Error = DynokeeperError(.peer, "no attempt")
        for attempt in 1...max(1, attempts) {
            do {
                var request = HTTPClientRequest(url: url)
                request.method = method
                if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
                // Also without a body: the API refuses unsafe requests of other types, as a browser would send.
                if method != .GET { request.headers.add(name: "Content-Type", value: "application/json") }
                if let payload { request.body = .bytes(payload) }
                let response = try await client.execute(request, timeout: timeout)
                let reply = Reply(status: response.status.code, body: try await response.body.collect(upTo: 16 << 20))
                if reply.status >= 500 && attempt < attempts {
                    lastError = DynokeeperError(.peer, "\(url) answered \(reply.status): \(reply.errorMessage)")
                    try await Task.sleep(for: .milliseconds(200 * attempt))
                    continue
                }
                return reply
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                lastError = DynokeeperError(.peer, "cannot reach \(url): \(error)")
                if attempt < attempts { try await Task.sleep(for: .milliseconds(200 * attempt)) }
            }
        }
        throw lastError
    }

    /// What a peer says of itself: who it is and which contract it speaks.
    package func status(_ base: String) async throws -> NodeStatus.Identity {
        let reply = try await call(.GET, base + "/v1/status")
        guard reply.status == 200 else {
            throw DynokeeperError(.peer, "\(base)/v1/status answered \(reply.status): \(reply.errorMessage)")
        }
        do {
            return try reply.decode(NodeStatus.Identity.self)
        } catch {
            throw DynokeeperError(.peer, "\(base)/v1/status did not answer as a dynokeeper does: \(error)")
        }
    }

    /// Asks a peer for a backup of its node, returning the job's id.
    func startBackup(_ base: String, _ request: BackupRequest) async throws -> String {
        try await startJob(
            base, path: "/v1/backups", body: request, kind: .backup, snapshot: request.snapshotID?.text,
            matches: { _ in true })
    }

    /// Asks a peer for a restore of its node, returning the job's id.
    func startRestore(_ base: String, _ request: RestoreRequest) async throws -> String {
        // A dry run of the same snapshot, or a restore of it from another source, is not ours.
        try await startJob(
            base, path: "/v1/restores", body: request, kind: .restore, snapshot: request.snapshot?.text,
            matches: { job in
                (job.parameters.dryRun ?? false) == request.dryRun && Self.sameSource(job.parameters.source, request)
            })
    }

    /// Of a job a peer accepted, only its id is read: an accepted job must never be reported as not started
    /// because another field did not decode.
    struct StartedJob: Decodable { var id: String }

    /// Starts a job on a peer (`POST path`), returning its id.
    ///
    /// A POST that timed out may have started the job all the same, and its retry then gets 409 (a job is running):
    /// when the peer's running job is one of this kind for the same snapshot, it is ours, and its id is returned.
    private func startJob(
        _ base: String, path: String, body: some Encodable & Sendable, kind: Job.Kind, snapshot: String?,
        matches: (Job) -> Bool
    ) async throws -> String {
        let reply: Reply
        do {
            reply = try await call(.POST, base + path, body: body)
        } catch {
            if let ours = await runningJob(base, kind: kind, snapshot: snapshot, matches: matches) { return ours }
            throw error
        }
        if reply.status == 202, let job = try? reply.decode(StartedJob.self) { return job.id }
        if reply.status == 409, let ours = await runningJob(base, kind: kind, snapshot: snapshot, matches: matches) {
            return ours
        }
        throw DynokeeperError(.peer, "\(base)\(path) answered \(reply.status): \(reply.errorMessage)")
    }

    /// The id of the job the peer is running, when it is of `kind` for `snapshot`.
    private func runningJob(
        _ base: String, kind: Job.Kind, snapshot: String?, matches: (Job) -> Bool
    ) async -> String? {
        struct Running: Decodable { var currentJob: Job? }
        guard let snapshot, let reply = try? await call(.GET, base + "/v1/status"), reply.status == 200,
            let job = (try? reply.decode(Running.self))?.currentJob,
            job.kind == kind, job.parameters.snapshot == snapshot, matches(job)
        else { return nil }
        return job.id
    }

    /// Whether a running restore's source (`cluster/dc/rack/tokens`) is the one this request asks for, as far as the
    /// request names it.
    static func sameSource(_ source: String?, _ request: RestoreRequest) -> Bool {
        guard let source else { return false }
        let parts = source.split(separator: "/").map(String.init)
        guard parts.count >= 3 else { return false }
        return (request.sourceCluster.map { $0 == parts[0] } ?? true)
            && (request.sourceDatacenter.map { $0 == parts[1] } ?? true)
            && (request.sourceRack.map { $0 == parts[2] } ?? true)
    }

    /// Polls a peer's job until it has finished.
    func waitForJob(_ base: String, id: String, timeout: Duration, pollInterval: Duration) async throws -> Job {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let reply = try await call(.GET, base + "/v1/jobs/" + id)
            guard reply.status == 200 else {
                throw DynokeeperError(.peer, "\(base)/v1/jobs/\(id) answered \(reply.status): \(reply.errorMessage)")
            }
            let job: Job
            do { job = try reply.decode(Job.self) } catch {
                throw DynokeeperError(.peer, "\(base)/v1/jobs/\(id): unexpected answer: \(error)")
            }
            if job.isFinished { return job }
            try await Task.sleep(for: pollInterval)
        }
        throw DynokeeperError(.peer, "job \(id) on \(base) did not finish within \(timeout)")
    }
}
