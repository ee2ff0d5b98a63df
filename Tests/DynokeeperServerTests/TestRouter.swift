import DynokeeperConfiguration
import DynokeeperTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing

@testable import DynokeeperServer

/// The daemon's router, called through HummingbirdTesting without a server: its store is a folder, its Redis a
/// loopback port nothing listens on, and it has no ring peers. Every reply is checked against
/// docs/openapi.yaml.
struct TestRouter: Sendable {
    let daemon: DynokeeperDaemon
    let client: any TestClientProtocol

    func call(
        _ method: HTTPRequest.Method, _ path: String, body: String? = nil, token: String? = TestDaemon.token,
        authorization: String? = nil
    ) async throws -> TestDaemon.Reply {
        var headers: HTTPFields = [:]
        if let token { headers[.authorization] = authorization ?? "Bearer \(token)" }
        if body != nil || method != .get { headers[.contentType] = "application/json" }
        let response = try await client.execute(
            uri: path, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
        let reply = TestDaemon.Reply(
            status: Int(response.status.code), body: String(buffer: response.body),
            headers: response.headers.map { ($0.name.canonicalName, $0.value) })
        OpenAPISpec.expectConforms(reply, method: method.rawValue, path: path)
        return reply
    }

    /// - Parameter redis: A real Redis for the node; by default a port nothing listens on.
    static func configuration(folder: TemporaryDirectory, restore: String, redis: ManagedRedis? = nil) throws -> String
    {
        try FileManager.default.createDirectory(atPath: folder.file("data"), withIntermediateDirectories: true)
        let redisLines =
            try redis?.configurationLines ?? """
                  host: 127.0.0.1
                  port: \(try FreePort.next())
                  data_dir: \(folder.file("data"))
                """
        return """
            cluster: router-test
            server:
              listen: 127.0.0.1:0
              token: \(TestDaemon.token)
            redis:
            \(redisLines)
            storage:
              url: file://\(folder.file("store"))
            restore:
              \(restore)
            """
    }

    /// Stops what the daemon's services would have stopped, had it run.
    static func stop(_ daemon: DynokeeperDaemon) async {
        await daemon.ring.shutdown()
        await daemon.node.runner.shutdown()
        await daemon.ring.peers.shutdown()
        try? await daemon.node.store.shutdown()
    }
}

/// Runs `body` with a ``TestRouter``, and removes everything it made afterwards, also when `body` throws.
/// - Parameters:
///   - restore: The `restore:` section.
///   - redis: A real Redis for the node; by default a port nothing listens on.
func withTestRouter<Result: Sendable>(
    restore: String = "enabled: true", redis: ManagedRedis? = nil, _ body: @Sendable (TestRouter) async throws -> Result
) async throws -> Result {
    let folder = try TemporaryDirectory(prefix: "router")
    defer { folder.remove() }
    let configuration = try DynokeeperConfiguration.parse(
        yaml: try TestRouter.configuration(folder: folder, restore: restore, redis: redis),
        path: folder.file("dynokeeper.yml"))
    let daemon = try DynokeeperDaemon(
        configuration: configuration, path: nil, environment: [:], logger: Logger(label: "router-test"))
    return try await withScoped(daemon, stop: TestRouter.stop) { daemon in
        try await Application(router: daemon.makeRouter()).test(.router) { client in
            try await body(TestRouter(daemon: daemon, client: client))
        }
    }
}
