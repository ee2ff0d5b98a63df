import DynokeeperConfiguration
import DynokeeperEngine
import DynokeeperTestSupport
import NIOCore
import RedisClient
import Testing

@Suite(.tags(.integration)) struct RedisConnectorTests {
    /// Command timeouts used to be cut to whole seconds: 1.5 s became 1 s, and 0.5 s became 0, which failed every
    /// command at once. The connection's own timeout is checked, not how fast Redis answers (a loaded machine may
    /// take longer than half a second).
    @Test func subSecondCommandTimeoutsAreKept() async throws {
        try await withResource(RedisServer.start()) { server in
            let connector = RedisConnector(
                node: .test(port: server.port), redis: Engine.redisSettings(), logger: Engine.logger)
            let used = try await connector.withConnection(commandTimeout: .milliseconds(1500)) { redis in
                #expect(redis.commandTimeout == .milliseconds(1500))
                return redis
            }
            #expect(!used.isActive, "closed when the scope ends")
            try await connector.withConnection(commandTimeout: .milliseconds(500)) { redis in
                #expect(redis.commandTimeout == .milliseconds(500))
            }
            try await connector.withConnection { redis in
                #expect(redis.commandTimeout == .seconds(30))
                try await redis.ping()
            }
        }
    }

    /// With its password file unreadable nothing can be asked of Redis; whether it listens says whether it runs
    /// (it used to count as running even when it was down, as any error but a refused connection did).
    @Test func anUnreadablePasswordFileDoesNotMakeADownRedisUp() async throws {
        let settings = DynokeeperConfiguration.Redis(
            host: nil, port: nil, user: nil, passwordFile: "/nonexistent/dynokeeper-password", conf: nil, dataDir: nil)
        func service(port: Int) -> RedisService {
            RedisService(
                connector: RedisConnector(node: .test(port: port), redis: settings, logger: Engine.logger),
                startCommand: nil, stopCommand: nil, logger: Engine.logger)
        }
        #expect(await service(port: try FreePort.next()).presence() == .down)
        try await withResource(RedisServer.start()) { server in
            #expect(await service(port: server.port).presence() == .up(runID: nil))
        }
    }
}
