package import Logging
package import NIOCore
import NIOPosix
import Synchronization

/// Hands an RDB to one Redis as a master hands it to a replica for a full resync, so that Redis loads the data
/// while it arrives (`REPLICAOF` this feed, then `REPLICAOF NO ONE`).
///
/// Only the replica that authenticates with `password` (its `masterauth`) is served: anyone else who connects
/// meanwhile gets an error and is disconnected, and never sees a byte of the data. The RDB goes with
/// `$<length>` framing: the length is known beforehand, so the replica can neither take a short transfer for a
/// whole one nor finish loading before the last byte is sent; a feed that stops early makes it discard what it
/// loaded (with `repl-diskless-load swapdb` it keeps its old data).
package enum RDBFeed {
    /// What ``RedisError/connectionClosed(command:)`` names when the replica drops the link before it has loaded
    /// the data.
    package static let transfer = "the transfer of the data (see Redis's log)"

    /// Writes the RDB's bytes to the replica, waiting while it cannot take more.
    package struct Writer: Sendable {
        let channel: any Channel
        let watch: Watch

        /// Returns once the bytes are in the socket: the replica's pace sets the feed's.
        /// - Throws: ``RedisError/connectionClosed(command:)`` for ``RDBFeed/transfer`` when the replica dropped the
        ///   link (a Redis that exits on a damaged RDB resets it).
        package func write(_ bytes: ByteBuffer) async throws {
            do {
                try await channel.writeAndFlush(bytes)
            } catch let error as RedisError {
                throw error
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                throw RedisError.connectionClosed(command: RDBFeed.transfer)
            }
            watch.progress.add(1, ordering: .relaxed)
        }
    }

    /// Serves one full resync.
    /// - Parameters:
    ///   - host: The address to listen on (one the replica can reach); the port is chosen by the system.
    ///   - password: What the replica must send with `AUTH` (its `masterauth`).
    ///   - size: The RDB's exact length in bytes.
    ///   - acceptTimeout: How long the replica may take to connect and ask for the data.
    ///   - idleTimeout: How long the replica may take no bytes.
    ///   - listening: Called with the port once it listens (to send `REPLICAOF`).
    ///   - feed: Writes exactly `size` bytes.
    ///   - loaded: Runs after the last byte, while the link stays open (the replica drops a master that leaves):
    ///     waits until the replica has loaded the data, and detaches it.
    package static func serve<Value: Sendable>(
        host: String, password: String, size: Int64, acceptTimeout: Duration = .seconds(30),
        idleTimeout: Duration = .seconds(60), logger: Logger,
        listening: @escaping @Sendable (Int) async throws -> Void,
        feed: @escaping @Sendable (Writer) async throws -> Void,
        loaded: @escaping @Sendable () async throws -> Value
    ) async throws -> Value {
        // Plain channels rather than NIOAsyncChannels: a connection accepted while the feed ends must be closed,
        // not dropped, and every channel accepted is closed when `serve` returns.
        let watch = Watch()
        let (accepted, acceptedContinuation) = AsyncStream.makeStream(of: Accepted.self)
        watch.accepted.withLock { $0 = acceptedContinuation }
        let server: any Channel
        do {
            server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.backlog, value: 8)
                .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { channel in
                    guard watch.register(channel) else { return channel.close() }
                    let (inbound, continuation) = AsyncThrowingStream.makeStream(of: ByteBuffer.self)
                    return channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(InboundBridge(continuation))
                        acceptedContinuation.yield(Accepted(channel: channel, inbound: inbound))
                    }
                }
                .bind(host: host, port: 0).get()
        } catch {
            throw RedisError.protocolError(
                "cannot listen on \(host) for Redis to fetch the data: \(RedisConnection.describe(error))")
        }
        watch.server.withLock { $0 = server }
        defer { watch.stop(nil) }
        guard let port = server.localAddress?.port else {
            throw RedisError.protocolError("the replication listener on \(host) has no port")
        }
        return try await withThrowingTaskGroup(of: Value?.self) { group in
            // Gives up when no replica started a sync in time, and closes a link on which nothing moves.
            group.addTask {
                try await Task.sleep(for: acceptTimeout)
                guard watch.started.load(ordering: .relaxed) else {
                    watch.stop(
                        RedisError.timeout(
                            command: "REPLICAOF (Redis did not connect to fetch the data)",
                            seconds: Double(acceptTimeout.components.seconds)))
                    return nil
                }
                var seen = -1
                while true {
                    let now = watch.progress.load(ordering: .relaxed)
                    // Once every byte is out, `loaded` keeps its own time.
                    if now == seen, !watch.fed.load(ordering: .relaxed) {
                        watch.stop(
                            RedisError.timeout(
                                command: "the transfer to the replica", seconds: Double(idleTimeout.components.seconds))
                        )
                        return nil
                    }
                    seen = now
                    try await Task.sleep(for: idleTimeout)
                }
            }
            // The replica's connection is served; any other gets the handshake and is dropped.
            group.addTask {
                try await listening(port)
                for await connection in accepted {
                    do {
                        if let value = try await session(
                            connection, password: password, size: size, watch: watch, logger: logger, feed: feed,
                            loaded: loaded)
                        {
                            return value
                        }
                    } catch {
                        throw watch.failure ?? error
                    }
                }
                throw watch.failure
                    ?? RedisError.protocolError("the replication listener closed before Redis fetched the data")
            }
            defer { group.cancelAll() }
            while let outcome = try await group.next() {
                if let outcome { return outcome }
            }
            throw RedisError.protocolError("the replication listener stopped")
        }
    }

    /// A connection accepted, with what it receives.
    struct Accepted: Sendable {
        let channel: any Channel
        let inbound: AsyncThrowingStream<ByteBuffer, any Error>
    }

    /// Hands what a connection receives to an async stream, which ends when the connection closes.
    final class InboundBridge: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let continuation: AsyncThrowingStream<ByteBuffer, any Error>.Continuation

        init(_ continuation: AsyncThrowingStream<ByteBuffer, any Error>.Continuation) {
            self.continuation = continuation
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            continuation.yield(unwrapInboundIn(data))
        }

        func channelInactive(context: ChannelHandlerContext) {
            continuation.finish()
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            continuation.finish(throwing: error)
            context.close(promise: nil)
        }
    }

    /// One connection: the handshake, then (for the replica that authenticated) the data and `loaded`.
    /// - Returns: `nil` for a connection that was not the replica's.
    private static func session<Value: Sendable>(
        _ connection: Accepted, password: String, size: Int64, watch: Watch, logger: Logger,
        feed: @escaping @Sendable (Writer) async throws -> Void,
        loaded: @escaping @Sendable () async throws -> Value
    ) async throws -> Value? {
        let channel = connection.channel
        let peer = channel.remoteAddress?.description ?? "unknown"
        defer { channel.close(promise: nil) }
        let (ready, readyContinuation) = AsyncStream.makeStream(of: Bool.self)
        return try await withThrowingTaskGroup(of: Value?.self) { group in
            // The one reader of the link: the handshake, then whatever the replica sends while it loads
            // (`REPLCONF ACK`), until it closes.
            group.addTask {
                defer { readyContinuation.finish() }
                var handshake = Handshake(password: password)
                var pending = ByteBuffer()
                var inbound = connection.inbound.makeAsyncIterator()
                while true {
                    let next: ByteBuffer?
                    do {
                        next = try await inbound.next()
                    } catch  where handshake.syncing {
                        // A reset from a replica that exits while it loads (on a damaged RDB, for one).
                        throw RedisError.connectionClosed(command: transfer)
                    }
                    guard var chunk = next else { break }
                    guard !handshake.syncing else { continue }
                    pending.writeBuffer(&chunk)
                    // A handshake is a few short commands: more is not a replica.
                    guard pending.readableBytes <= 64 << 10 else {
                        logger.warning("refused a replication link from \(peer): it sent too much before syncing")
                        return nil
                    }
                    let (replies, outcome) = try handshake.feed(&pending)
                    if replies.readableBytes > 0 { try await channel.writeAndFlush(replies) }
                    switch outcome {
                    case .waiting: continue
                    case .rejected:
                        logger.warning("refused a replication link from \(peer): it did not authenticate")
                        return nil
                    case .sync:
                        var header = ByteBuffer()
                        header.writeString("+FULLRESYNC \(randomHex(40)) 0\r\n$\(size)\r\n")
                        try await channel.writeAndFlush(header)
                        readyContinuation.yield(true)
                    }
                }
                throw RedisError.connectionClosed(command: transfer)
            }
            // A connection that does not ask for the data soon is dropped, so that it cannot keep the replica's
            // waiting behind it.
            group.addTask {
                try await Task.sleep(for: handshakeTimeout)
                readyContinuation.yield(false)
                return nil
            }
            var iterator = ready.makeAsyncIterator()
            guard await iterator.next() == true else {
                group.cancelAll()
                return nil
            }
            watch.started.store(true, ordering: .relaxed)
            watch.channel.withLock { $0 = channel }
            logger.debug("Redis at \(peer) fetches the data")
            group.addTask {
                try await feed(Writer(channel: channel, watch: watch))
                watch.fed.store(true, ordering: .relaxed)
                return try await loaded()
            }
            // Either the feed and `loaded` end (the result), or the replica closes the link first (an error).
            while let next = try await group.next() {
                if let next {
                    group.cancelAll()
                    return next
                }
            }
            throw RedisError.connectionClosed(command: transfer)
        }
    }

    /// How long a connection may take to ask for the data (Redis's replica does it at once).
    static let handshakeTimeout: Duration = .seconds(5)

    /// The replica's side of the handshake: `PING`, `AUTH`, `REPLCONF …`, then `PSYNC` (or `SYNC`).
    struct Handshake {
        enum Outcome { case waiting, rejected, sync }

        let password: String
        var authenticated = false
        var syncing = false
        let parser = RESPParser()

        init(password: String) { self.password = password }

        /// Answers every whole command in `pending`.
        mutating func feed(_ pending: inout ByteBuffer) throws -> (ByteBuffer, Outcome) {
            var replies = ByteBuffer()
            while let value = try parser.parse(&pending) {
                let words = value.array?.compactMap(\.string) ?? []
                switch words.first?.uppercased() {
                case "PING":
                    replies.writeString("+PONG\r\n")
                case "AUTH":
                    guard let given = words.last, words.count <= 3, Self.equal(given, password) else {
                        replies.writeString("-WRONGPASS invalid username-password pair\r\n")
                        return (replies, .rejected)
                    }
                    authenticated = true
                    replies.writeString("+OK\r\n")
                case "REPLCONF" where authenticated:
                    replies.writeString("+OK\r\n")
                case "PSYNC", "SYNC":
                    guard authenticated else {
                        replies.writeString("-NOAUTH Authentication required.\r\n")
                        return (replies, .rejected)
                    }
                    syncing = true
                    return (replies, .sync)
                default:
                    replies.writeString(
                        authenticated ? "-ERR unknown command\r\n" : "-NOAUTH Authentication required.\r\n")
                    if !authenticated { return (replies, .rejected) }
                }
            }
            return (replies, .waiting)
        }

        /// Compares in time that does not depend on where the two differ.
        static func equal(_ a: String, _ b: String) -> Bool {
            let (x, y) = (Array(a.utf8), Array(b.utf8))
            var difference = x.count ^ y.count
            for index in 0..<max(x.count, y.count) {
                difference |= Int(index < x.count ? x[index] : 0) ^ Int(index < y.count ? y[index] : 0)
            }
            return difference == 0
        }
    }

    /// What the watchdog, the listener and the session share.
    final class Watch: Sendable {
        let progress = Atomic<Int>(0)
        let started = Atomic<Bool>(false)
        let fed = Atomic<Bool>(false)
        let channel = Mutex<(any Channel)?>(nil)
        let server = Mutex<(any Channel)?>(nil)
        let accepted = Mutex<AsyncStream<Accepted>.Continuation?>(nil)
        /// Every connection accepted, `nil` once stopped.
        private let connections = Mutex<[any Channel]?>([])
        private let firstFailure = Mutex<(any Error)?>(nil)

        var failure: (any Error)? { firstFailure.withLock { $0 } }

        /// Records an accepted connection; `false` once stopped (the connection is then closed at once).
        func register(_ channel: any Channel) -> Bool {
            connections.withLock { list in
                guard list != nil else { return false }
                list!.append(channel)
                return true
            }
        }

        /// Ends the feed: closes the listener and every connection (the session then fails), and ends the
        /// stream of accepted connections.
        func stop(_ failure: (any Error)?) {
            if let failure { firstFailure.withLock { $0 = $0 ?? failure } }
            let open = connections.withLock { list in
                defer { list = nil }
                return list ?? []
            }
            server.withLock { $0?.close(promise: nil) }
            for channel in open { channel.close(promise: nil) }
            accepted.withLock { $0?.finish() }
        }
    }

    /// Random lowercase hexadecimal, for a replication id.
    static func randomHex(_ count: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return String((0..<count).map { _ in "0123456789abcdef".randomElement(using: &generator)! })
    }
}
