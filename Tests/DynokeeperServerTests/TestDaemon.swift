import AsyncHTTPClient
import DynokeeperConfiguration
import DynokeeperServer
import DynokeeperTestSupport
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Testing

/// A daemon in this process, with a managed redis-server and a store on the shared SeaweedFS, and an HTTP
/// client to talk to it.
final class TestDaemon: Sendable {
    static let token = "test-token-0123456789abcdef"

    let daemon: DynokeeperDaemon
    let redis: ManagedRedis
    let folder: TemporaryDirectory
    let configPath: String
    let task: Task<Void, any Error>
    let client: HTTPClient
    let port: Int
    /// The SeaweedFS bucket the daemon stores into, under `daemon/`.
    let bucket: String

    /// - Parameters:
    ///   - backup: The `backup:` section.
    ///   - clock: The scheduler's clock.
    ///   - extra: More redis.conf lines.
    static func start(
        backup: String = "enabled: false", clock: any SchedulerClock = SystemSchedulerClock(), extra: [String] = []
    ) async throws -> TestDaemon {
        let server = try await SeaweedFS.shared()
        let bucket = try await server.makeBucket("daemon")
        let redis = try ManagedRedis(extra: extra)
        try await redis.start()
        let folder = try TemporaryDirectory(prefix: "daemon")
        let configPath = folder.file("dynokeeper.yml")
        try Self.configuration(redis: redis, bucket: bucket, endpoint: server.endpoint, backup: backup)
            .write(toFile: configPath, atomically: false, encoding: .utf8)
        let environment = [
            "AWS_ACCESS_KEY_ID": server.accessKey, "AWS_SECRET_ACCESS_KEY": server.secretKey,
            "AWS_EC2_METADATA_DISABLED": "true",
        ]
        let configuration = try DynokeeperConfiguration.load(path: configPath, environment: environment)
        let daemon = try DynokeeperDaemon(
            configuration: configuration, path: configPath, environment: environment, clock: clock,
            logger: Logger(label: "daemon-test"))
        let task = Task { try await daemon.run(handleSignals: false) }
        let port = await daemon.port()
        return TestDaemon(
            daemon: daemon, redis: redis, folder: folder, configPath: configPath, task: task, port: port, bucket: bucket
        )
    }

    static func configuration(redis: ManagedRedis, bucket: String, endpoint: String, backup: String) -> String {
        """
        cluster: daemon-test
        server:
          listen: 127.0.0.1:0
          token: \(token)
        redis:
        \(redis.configurationLines)
        storage:
          url: s3://\(bucket)/daemon
          endpoint: \(endpoint)
          part_size_mb: 5
        backup:
          \(backup)
        restore:
          enabled: true
        """
    }

    private init(
        daemon: DynokeeperDaemon, redis: ManagedRedis, folder: TemporaryDirectory, configPath: String,
        task: Task<Void, any Error>, port: Int, bucket: String
    ) {
        self.bucket = bucket
        self.daemon = daemon
        self.redis = redis
        self.folder = folder
        self.configPath = configPath
        self.task = task
        self.port = port
        self.client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup)
    }

    struct Reply {
        var status: Int
        var body: String
        var headers: [(String, String)]

        /// The body as a JSON object.
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:] }
    }

    /// Calls the API.
    func call(
        _ method: HTTPMethod, _ path: String, body: String? = nil, token: String? = TestDaemon.token
    ) async throws -> Reply {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        // As every client must, also without a body (the API refuses other unsafe requests, as a browser's).
        if method != .GET { request.headers.add(name: "Content-Type", value: "application/json") }
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        return try await Self.send(request, path: path, client: client, timeout: .seconds(120))
    }

    /// Sends a request and checks the reply against docs/openapi.yaml.
    static func send(
        _ request: HTTPClientRequest, path: String, client: HTTPClient, timeout: TimeAmount
    ) async throws -> Reply {
        let response = try await client.execute(request, timeout: timeout)
        let bytes = try await response.body.collect(upTo: 16 << 20)
        let headers = response.headers.map { ($0.name, $0.value) }
        let reply = Reply(status: Int(response.status.code), body: String(buffer: bytes), headers: headers)
        OpenAPISpec.expectConforms(reply, method: request.method.rawValue, path: path)
        return reply
    }

    /// Polls a job until it has finished (bounded).
    func waitForJob(_ id: String, timeout: Duration = .seconds(120)) async throws -> [String: Any] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let job = try await call(.GET, "/v1/jobs/\(id)").json
            if let state = job["state"] as? String, state == "succeeded" || state == "failed" { return job }
            guard ContinuousClock.now < deadline else { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestSupportError("job \(id) did not finish within \(timeout)")
    }

    /// Stops the daemon gracefully and everything the test started.
    fileprivate func stop() async {
        await daemon.shutdown()
        _ = try? await task.value
        try? await client.shutdown()
        await redis.stopAndRemove()
        folder.remove()
    }
}

/// Runs `body` with a ``TestDaemon`` started with these arguments (see ``TestDaemon/start(backup:clock:extra:)``),
/// and stops it afterwards, also when `body` throws.
func withTestDaemon<Result>(
    backup: String = "enabled: false", clock: any SchedulerClock = SystemSchedulerClock(), extra: [String] = [],
    _ body: (TestDaemon) async throws -> Result
) async throws -> Result {
    let daemon = try await TestDaemon.start(backup: backup, clock: clock, extra: extra)
    return try await withScoped(daemon, stop: { await $0.stop() }, body)
}
