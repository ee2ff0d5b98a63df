import DynokeeperTestSupport
import NIOCore
import Testing

@testable import RedisClient

#if canImport(Glibc)
    import Glibc
#endif

/// The client against a real redis-server.
@Suite(.tags(.integration)) struct RedisConnectionTests {
    @Test func commandsAgainstARealServer() async throws {
        try await withResource(RedisServer.start()) { server in
            try await RedisConnection.withConnection(to: RedisAddress(host: "127.0.0.1", port: server.port)) { redis in
                try await redis.ping()
                try await redis.send(["SET", "greeting", "héllo\r\nworld"])
                #expect(try await redis.send(["GET", "greeting"]).string == "héllo\r\nworld")
                #expect(try await redis.send(["GET", "missing"]) == .bulkString(nil))
                #expect(try await redis.configGet("dir") == server.directory.path)
                #expect(try await redis.configGet("no-such-parameter") == nil)
                #expect(try await redis.dbSize() == 1)
                let info = try await redis.info("keyspace")
                #expect(info.keyspace[0]?.keys == 1)
                #expect(try await redis.info("server").version?.hasPrefix("7.") == true)

                let error = await #expect(throws: RedisError.self) { try await redis.send(["NOSUCHCOMMAND"]) }
                #expect(error?.description.contains("unknown command") == true)

                // Pipelined answers come back in order.
                let answers = try await redis.sendPipelined((0..<100).map { _ in ["INCR", "counter"] })
                #expect(answers.map(\.integer) == (1...100).map { Int64($0) })

                // Large values cross many reads.
                let big = String(repeating: "x", count: 8 << 20)
                try await redis.send(["SET", "big", big])
                #expect(try await redis.send(["STRLEN", "big"]).integer == 8 << 20)
                #expect(try await redis.send(["GET", "big"]).string?.count == 8 << 20)
            }
        }
    }

    /// TCP_NODELAY goes on at the TCP level; at the socket level the same number is SO_DEBUG, which only root may
    /// set, and every connection of an unprivileged dynokeeper failed with EACCES.
    @Test func noDelayIsSetAtTheTCPLevelAndSODebugIsLeftAlone() async throws {
        try await withResource(RedisServer.start()) { server in
            try await RedisConnection.withConnection(to: RedisAddress(host: "127.0.0.1", port: server.port)) { redis in
                let noDelay = try await redis.channel.getOption(.tcpOption(.tcp_nodelay)).get()
                let soDebug = ChannelOptions.Types.SocketOption(
                    level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_DEBUG))
                let debug = try await redis.channel.getOption(soDebug).get()
                #expect(noDelay != 0)
                #expect(debug == 0)
            }
        }
    }

    @Test func passwordsAndACLUsers() async throws {
        try await withResource(RedisServer.start(password: "s3cret")) { server in
            let address = RedisAddress(host: "127.0.0.1", port: server.port)

            let password = RedisCredentials(password: "s3cret")
            try await RedisConnection.withConnection(to: address, credentials: password) { good in
                try await good.ping()
                try await good.send(["ACL", "SETUSER", "backup", "on", ">backup-pass", "~*", "+@all"])
            }

            let wrong = await #expect(throws: RedisError.self) {
                _ = try await RedisConnection.connect(to: address, credentials: RedisCredentials(password: "nope"))
            }
            #expect(wrong?.isAuthenticationFailure == true)
            #expect(wrong?.description.contains("nope") == false)
            #expect(wrong?.description.hasPrefix("Redis refused AUTH") == true)

            try await RedisConnection.withConnection(to: address) { none in
                let unauthenticated = await #expect(throws: RedisError.self) { try await none.ping() }
                #expect(unauthenticated?.isAuthenticationFailure == true)
            }

            try await RedisConnection.withConnection(
                to: address, credentials: RedisCredentials(user: "backup", password: "backup-pass")
            ) { user in
                try await user.ping()
            }
        }
    }

    /// A scoped connection is closed by the time the scope is left, however it is left; a
    /// `defer { Task { await redis.close() } }` left it open for a moment (or for good, at process exit).
    @Test func scopedConnectionsAreClosedWhenTheBodyReturnsThrowsOrIsCancelled() async throws {
        try await withResource(RedisServer.start()) { server in
            let address = RedisAddress(host: "127.0.0.1", port: server.port)

            let returned = try await RedisConnection.withConnection(to: address) { redis in
                try await redis.ping()
                return redis
            }
            #expect(!returned.isActive)

            struct Failure: Error {}
            var thrown: RedisConnection?
            do {
                try await RedisConnection.withConnection(to: address) { redis in
                    thrown = redis
                    throw Failure()
                }
                Issue.record("the body's error was not thrown")
            } catch is Failure {}
            let failed = try #require(thrown)
            #expect(!failed.isActive)

            let (opened, scope) = AsyncStream.makeStream(of: RedisConnection.self)
            let task = Task {
                try await RedisConnection.withConnection(to: address) { redis in
                    scope.yield(redis)
                    try await Task.sleep(for: .seconds(60))
                }
            }
            var connections = opened.makeAsyncIterator()
            let cancelled = try #require(await connections.next())
            #expect(cancelled.isActive)
            task.cancel()
            await #expect(throws: CancellationError.self) { try await task.value }
            #expect(!cancelled.isActive)
        }
    }

    @Test func unreachableServerIsAClearError() async throws {
        let port = try FreePort.next()
        let error = await #expect(throws: RedisError.self) {
            _ = try await RedisConnection.connect(to: RedisAddress(host: "127.0.0.1", port: port))
        }
        #expect(error?.description.hasPrefix("cannot connect to Redis at 127.0.0.1:\(port)") == true)
    }

    @Test func slowAnswersTimeOutAndCloseTheConnection() async throws {
        try await withResource(RedisServer.start()) { server in
            let redis = try await RedisConnection.connect(
                to: RedisAddress(host: "127.0.0.1", port: server.port), commandTimeout: .milliseconds(200))
            let error = await #expect(throws: RedisError.self) { try await redis.send(["DEBUG", "SLEEP", "1"]) }
            #expect(error?.description == "Redis did not answer DEBUG SLEEP within 0.2 s")
            try await Task.sleep(for: .milliseconds(50))
            #expect(!redis.isActive)
        }
    }

    @Test func shutdownStopsTheServer() async throws {
        try await withResource(RedisServer.start()) { server in
            let redis = try await RedisConnection.connect(to: RedisAddress(host: "127.0.0.1", port: server.port))
            try await redis.shutdown(save: false)
            try await server.process.waitUntil("redis-server to exit", timeout: .seconds(10)) {
                !server.process.isRunning
            }
            #expect(!FreePort.isListening(server.port))
        }
    }
}
