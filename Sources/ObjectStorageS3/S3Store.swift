import AWSSigV4
import AsyncHTTPClient
import Foundation
package import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import ObjectStorage

/// An ``ObjectStore`` on Amazon S3 or any S3-compatible service, signed with Signature Version 4.
///
/// Uploads larger than one part go through multipart upload, with `concurrency` parts in flight, and are
/// aborted on failure; whole-object downloads fetch `concurrency` ranges at once. Every body sent carries
/// `Content-MD5` and its signed SHA-256, so S3 refuses damaged bytes; ETags and lengths that come back
/// are checked. Transient failures are retried with exponential backoff and jitter.
///
/// Call ``shutdown()`` when done: the store owns an HTTP client.
package final class S3Store: ObjectStore {
    package let configuration: S3StoreConfiguration
    package let credentials: any CredentialProvider
    let endpoint: S3Endpoint
    let client: HTTPClient
    let logger: Logger

    /// - Parameters:
    ///   - configuration: Where and how to store.
    ///   - credentials: The source of credentials; the standard AWS chain over `environment` by default.
    ///   - environment: The environment for the default credential chain.
    ///   - profile: The shared-file profile for the default chain, over `AWS_PROFILE`.
    ///   - logger: Where retries and aborted uploads are reported.
    package init(
        configuration: S3StoreConfiguration,
        credentials: (any CredentialProvider)? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        profile: String? = nil,
        logger: Logger = Logger(label: "dynokeeper.s3")
    ) throws {
        try configuration.validate()
        self.configuration = configuration
        self.endpoint = try S3Endpoint(
            endpoint: configuration.endpoint, region: configuration.region,
            bucket: configuration.location.bucket, pathStyle: configuration.pathStyle)
        var httpConfiguration = HTTPClient.Configuration()
        httpConfiguration.timeout = .init(connect: .seconds(10), read: .seconds(120))
        httpConfiguration.connectionPool = .init(
            idleTimeout: .seconds(60),
            concurrentHTTP1ConnectionsPerHostSoftLimit: max(8, configuration.concurrency * 2))
        httpConfiguration.connectionPool.retryConnectionEstablishment = false  // our RetryPolicy backs off instead
        httpConfiguration.httpVersion = .http1Only
        httpConfiguration.decompression = .disabled
        httpConfiguration.redirectConfiguration = .disallow
        if let caBundle = configuration.caBundle {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .file(caBundle)
            httpConfiguration.tlsConfiguration = tls
        }
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: httpConfiguration)
        self.client = client
        self.credentials =
            credentials ?? CredentialChain.standard(environment: environment, profile: profile, client: client)
        self.logger = logger
    }

    /// Releases the HTTP client's connections.
    package func shutdown() async throws {
        try await client.shutdown()
    }

    package var location: String { configuration.location.description }

    // MARK: Sending

    /// Sends a request and reads its response whole, retrying transient failures.
    /// - Parameters:
    ///   - request: The call.
    ///   - payloadHash: The body's SHA-256 when already computed.
    ///   - acceptedStatus: The statuses that mean success.
    ///   - inspect: Checks a successful response inside the retry loop; what it throws is retried when
    ///     retryable.
    ///   - maxBody: The largest response body accepted.
    func send(
        _ request: S3Request, payloadHash: String? = nil, acceptedStatus: Set<UInt> = [200, 204],
        maxBody: Int = 16 << 20, retry: RetryPolicy? = nil, progress: TransferProgressCount? = nil,
        inspect: (S3Response) throws -> Void = { _ in }
    ) async throws -> S3Response {
        let payloadHash = payloadHash ?? request.body.map(PayloadDigests.sha256) ?? SigV4Signer.emptyPayloadHash
        return try await withRetries(request, policy: retry, progress: progress) {
            let response = try await self.execute(request, payloadHash: payloadHash)
            let body: ByteBuffer
            do {
                body = try await response.body.collect(upTo: maxBody)
            } catch {
                throw S3ErrorMapping.transportError(error, request: request, location: self.location)
            }
            guard acceptedStatus.contains(response.status.code) else {
                throw S3ErrorMapping.error(
                    status: response.status, body: body, request: request, location: self.location)
            }
            let result = S3Response(status: response.status, headers: response.headers, body: body)
            try inspect(result)
            return result
        }
    }

    /// Sends a request whose body is streamed back (a download), retrying until the response starts (once only
    /// with `retrying: false`, for a caller that has a retry loop of its own).
    func sendStreaming(
        _ request: S3Request, acceptedStatus: Set<UInt>, retrying: Bool = true
    ) async throws -> HTTPClientResponse {
        guard retrying else {
            let response = try await execute(request, payloadHash: SigV4Signer.emptyPayloadHash)
            guard acceptedStatus.contains(response.status.code) else {
                let body = (try? await response.body.collect(upTo: 1 << 20)) ?? ByteBuffer()
                throw S3ErrorMapping.error(status: response.status, body: body, request: request, location: location)
            }
            return response
        }
        return try await withRetries(request) {
            let response = try await self.execute(request, payloadHash: SigV4Signer.emptyPayloadHash)
            guard acceptedStatus.contains(response.status.code) else {
                let body = (try? await response.body.collect(upTo: 1 << 20)) ?? ByteBuffer()
                throw S3ErrorMapping.error(
                    status: response.status, body: body, request: request, location: self.location)
            }
            return response
        }
    }

    /// - Parameters:
    ///   - policy: The retries; the configured ones by default.
    ///   - progress: The progress of the transfer the request is part of (see ``RetryPolicy``).
    func withRetries<T>(
        _ request: S3Request, policy: RetryPolicy? = nil, progress: TransferProgressCount? = nil,
        _ operation: () async throws -> T
    ) async throws -> T {
        var refreshedCredentials = false
        let policy = policy ?? configuration.retry
        while true {
            do {
                return try await policy.run(
                    progress: progress,
                    onRetry: { error, attempt, delay in
                        self.logger.warning(
                            "retrying \(request.action) (attempt \(attempt + 1) of \(policy.maxAttempts)) in \(delay): \(error)"
                        )
                    }, operation)
            } catch let error as ObjectStoreError where error.code == .expiredCredentials {
                // Temporary credentials ran out between two refreshes: fetch new ones once.
                guard !refreshedCredentials, let chain = credentials as? CredentialChain else { throw error }
                await chain.invalidate()
                refreshedCredentials = true
            }
        }
    }

    /// One signed attempt.
    private func execute(_ request: S3Request, payloadHash: String) async throws -> HTTPClientResponse {
        let credentials: AWSCredentials
        do {
            guard let found = try await self.credentials.resolve() else {
                throw CredentialError("\(self.credentials.name) has no credentials")
            }
            credentials = found
        } catch let error as CredentialError {
            throw ObjectStoreError(.accessDenied, "\(request.action) at \(location): \(error)")
        }
        let path = endpoint.path(key: request.key)
        var headers = request.headers
        headers.append(("host", endpoint.hostHeader))
        headers.append(("x-amz-content-sha256", payloadHash))
        let signer = SigV4Signer(credentials: credentials, region: configuration.region)
        let signature = signer.sign(
            SigV4Request(method: request.method.rawValue, path: path, query: request.query, headers: headers),
            payloadHash: payloadHash, date: Date())
        var http = HTTPClientRequest(url: endpoint.url(path: path, query: request.query))
        http.method = request.method
        for (name, value) in headers + signature.headers { http.headers.add(name: name, value: value) }
        if let body = request.body {
            http.body = .bytes(body)
        } else if request.method == .PUT || request.method == .POST {
            http.body = .bytes(ByteBuffer())
        }
        do {
            return try await client.execute(http, timeout: configuration.requestTimeout, logger: logger)
        } catch {
            throw S3ErrorMapping.transportError(error, request: request, location: location)
        }
    }
}
