package import Logging
package import NIOCore
import NIOPosix

/// Where a Redis server listens.
package struct RedisAddress: Sendable, Equatable, CustomStringConvertible {
    package var host: String
    package var port: Int

    package init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    package var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// How to authenticate: a password alone (`requirepass`), or an ACL user and its password.
package struct RedisCredentials: Sendable {
    package var user: String?
    package var password: String

    package init(user: String? = nil, password: String) {
        self.user = user
        self.password = password
    }
}

/// One connection to Redis, speaking RESP2 over SwiftNIO.
///
/// Commands may be sent from several tasks; answers come back in order. A command that does not get its answer
/// within its timeout fails and closes the connection (a late answer would be taken for the next one's).
package final class RedisConnection: Sendable {
    package let address: RedisAddress
    package let commandTimeout: TimeAmount
    let channel: any Channel
    let logger: Logger

    private init(address: RedisAddress, channel: any Channel, commandTimeout: TimeAmount, logger: Logger) {
        self.address = address
        self.channel = channel
        self.commandTimeout = commandTimeout
        self.logger = logger
    }

    /// Connects, and authenticates when credentials are given.
    /// - Parameters:
    ///   - address: The server.
    ///   - credentials: The password (and ACL user), if Redis needs one.
    ///   - connectTimeout: How long the TCP connection may take.
    ///   - commandTimeout: How long each answer may take, unless a command says otherwise.
    ///   - logger: For debugging.
    package static func connect(
        to address: RedisAddress,
        credentials: RedisCredentials? = nil,
        connectTimeout: TimeAmount = .seconds(5),
        commandTimeout: TimeAmount = .seconds(30),
        logger: Logger = Logger(label: "dynokeeper.redis")
    ) async throws -> RedisConnection {
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(connectTimeout)
                // TCP_NODELAY is an IPPROTO_TCP option: `.socketOption(.tcp_nodelay)` would set SOL_SOCKET option 1,
                // SO_DEBUG, which needs CAP_NET_ADMIN and fails for every user but root.
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(RESPChannelHandler())
                    }
                }
                .connect(host: address.host, port: address.port)
                .get()
        } catch {
            throw RedisError.connectionFailed(address: address.description, reason: Self.describe(error))
        }
        let connection = RedisConnection(
            address: address, channel: channel, commandTimeout: commandTimeout, logger: logger)
        if let credentials {
            do {
                var command = ["AUTH"]
                if let user = credentials.user { command.append(user) }
                command.append(credentials.password)
                _ = try await connection.send(command, redacted: "AUTH")
            } catch {
                await connection.close()
                throw error
            }
        }
        return connection
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? NIOConnectionError, let first = error.connectionErrors.first {
            return describe(first.error)
        }
        // NIO's own text repeats itself ("connection reset (error set): Connection refused) (errno: 111)").
        if let error = error as? IOError { return String(cString: strerror(error.errnoCode)) }
        if error is ChannelError { return "\(error)" }
        return "\(error)"
    }

    /// Sends a command and waits for its answer.
    /// - Parameters:
    ///   - command: The command and its arguments, such as `["CONFIG", "GET", "dir"]`.
    ///   - timeout: Overrides the connection's command timeout.
    ///   - redacted: What to call the command in messages (so that `AUTH` never shows the password).
    /// - Throws: ``RedisError/server(command:message:)`` for an error reply, or a connection failure.
    @discardableResult
    package func send(
        _ command: [String], timeout: TimeAmount? = nil, redacted: String? = nil
    ) async throws -> RESPValue {
        try await sendPipelined([command], timeout: timeout, redacted: redacted)[0]
    }

    /// Sends several commands in one write, so that Redis runs them back to back, and returns their answers.
    /// An error reply to any of them is thrown.
    package func sendPipelined(
        _ commands: [[String]], timeout: TimeAmount? = nil, redacted: String? = nil
    ) async throws -> [RESPValue] {
        let (name, answers) = submit(commands, timeout: timeout, redacted: redacted)
        var values: [RESPValue] = []
        for answer in answers {
            let result: Result<RESPValue, any Error>
            do { result = .success(try await answer.get()) } catch { result = .failure(error) }
            values.append(try Self.checked(result, command: name).get())
        }
        return values
    }

    /// Sends several commands in one write without waiting: `completion` runs on the connection's event loop once
    /// every answer came (or the connection failed), so when it runs does not depend on the caller's tasks getting a
    /// thread.
    package func sendPipelined(
        _ commands: [[String]], timeout: TimeAmount? = nil,
        completion: @escaping @Sendable (Result<[RESPValue], RedisError>) -> Void
    ) {
        let (name, answers) = submit(commands, timeout: timeout, redacted: nil)
        EventLoopFuture.whenAllComplete(answers, on: channel.eventLoop).whenSuccess { results in
            var values: [RESPValue] = []
            for result in results {
                switch Self.checked(result, command: name) {
                case .success(let value): values.append(value)
                case .failure(let error): return completion(.failure(error))
                }
            }
            completion(.success(values))
        }
    }

    /// The event loop of the connection's channel.
    package var eventLoop: any EventLoop { channel.eventLoop }

    /// Writes the commands with a timer that fails their answers (and closes the connection) when they take too long.
    private func submit(
        _ commands: [[String]], timeout: TimeAmount?, redacted: String?
    ) -> (name: String, answers: [EventLoopFuture<RESPValue>]) {
        let name =
            redacted ?? (commands.first.map { $0.prefix(2).joined(separator: " ") } ?? "")
            + (commands.count > 1 ? " and \(commands.count - 1) more pipelined" : "")
        let loop = channel.eventLoop
        let promises = commands.map { _ in loop.makePromise(of: RESPValue.self) }
        let request = RESPRequest(commands: commands, promises: promises)
        let limit = timeout ?? commandTimeout
        let channel = channel
        let timer = loop.scheduleTask(in: limit) {
            let error = RedisError.timeout(command: name, seconds: Double(limit.nanoseconds) / 1e9)
            for promise in promises { promise.fail(error) }
            channel.close(promise: nil)
        }
        promises.last?.futureResult.whenComplete { _ in timer.cancel() }
        channel.writeAndFlush(request).whenFailure { error in
            for promise in promises { promise.fail(error) }
        }
        return (name, promises.map(\.futureResult))
    }

    /// An answer as the caller sees it: an error reply thrown as ``RedisError/server(command:message:)``, and a
    /// failure as a ``RedisError``.
    private static func checked(
        _ answer: Result<RESPValue, any Error>, command: String
    ) -> Result<RESPValue, RedisError> {
        switch answer {
        case .success(.error(let message)): .failure(.server(command: command, message: message))
        case .success(let value): .success(value)
        case .failure(let error as RedisError): .failure(error)
        case .failure(let error as RESPError): .failure(.protocolError(error.description))
        case .failure: .failure(.connectionClosed(command: command))
        }
    }

    /// Whether the connection is still open.
    package var isActive: Bool { channel.isActive }

    /// This end's IP address: one at which Redis can reach this process.
    package var localHost: String? { channel.localAddress?.ipAddress }

    package func close() async {
        try? await channel.close()
    }

    /// Runs `body` with this connection, then closes it and waits until it is closed, whether `body` returned or
    /// threw (cancellation included): unlike `defer { Task { await close() } }`, no socket outlives the caller.
    package func closing<T>(
        isolation: isolated (any Actor)? = #isolation, _ body: (RedisConnection) async throws -> T
    ) async throws -> T {
        let result: T
        do {
            result = try await body(self)
        } catch {
            await close()
            throw error
        }
        await close()
        return result
    }

    /// Connects (as ``connect(to:credentials:connectTimeout:commandTimeout:logger:)``), runs `body` with the
    /// connection, and closes it before returning or throwing.
    package static func withConnection<T>(
        to address: RedisAddress,
        credentials: RedisCredentials? = nil,
        connectTimeout: TimeAmount = .seconds(5),
        commandTimeout: TimeAmount = .seconds(30),
        logger: Logger = Logger(label: "dynokeeper.redis"),
        isolation: isolated (any Actor)? = #isolation,
        _ body: (RedisConnection) async throws -> T
    ) async throws -> T {
        let connection = try await connect(
            to: address, credentials: credentials, connectTimeout: connectTimeout, commandTimeout: commandTimeout,
            logger: logger)
        return try await connection.closing(body)
    }
}

/// Commands with the promises of their answers.
struct RESPRequest {
    var commands: [[String]]
    var promises: [EventLoopPromise<RESPValue>]
}

/// Encodes requests, parses answers and hands them to the waiting promises in order.
final class RESPChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = RESPRequest
    typealias OutboundOut = ByteBuffer

    private var buffer = ByteBuffer()
    private var waiting = CircularBuffer<EventLoopPromise<RESPValue>>()
    private let parser = RESPParser()

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        var out = context.channel.allocator.buffer(capacity: 64)
        for command in request.commands { RESPEncoder.encode(command, into: &out) }
        waiting.append(contentsOf: request.promises)
        context.write(wrapOutboundOut(out), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        buffer.writeBuffer(&incoming)
        do {
            while let value = try parser.parse(&buffer) {
                guard let promise = waiting.popFirst() else {
                    throw RESPError.malformed("an answer came that no command asked for")
                }
                promise.succeed(value)
            }
            buffer.discardReadBytes()
        } catch {
            failAll(error)
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failAll(error)
        context.close(promise: nil)
    }

    private func failAll(_ error: any Error) {
        while let promise = waiting.popFirst() { promise.fail(error) }
    }
}
