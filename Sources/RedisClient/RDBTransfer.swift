package import Logging
package import NIOCore
import NIOPosix
import Synchronization

/// Redis's RDB as a replica receives it: `PSYNC ? -1` after `REPLCONF capa eof` and `REPLCONF rdb-only 1` (Redis 7 and
/// later), so that no command stream follows the snapshot; `+FULLRESYNC` names the replication position it was taken at. With diskless sync (Redis 7's default) Redis streams the RDB while its fork
/// writes it; otherwise it sends the file its fork wrote to disk.
///
/// The bytes come framed in one of two ways: `$<length>\r\n<length bytes>` (from disk), or
/// `$EOF:<40 random bytes>\r\n<rdb><the same 40 bytes>` (diskless, the length unknown in advance). Before the
/// frame, Redis may send bare newlines to keep the link alive while it prepares the snapshot.
package enum RDBTransfer {
    /// What was received.
    package struct Summary: Sendable, Equatable {
        /// Bytes of RDB handed to the consumer.
        package var bytes: Int64
        /// Whether Redis streamed it while its fork wrote it (`$EOF:` framing) rather than from a file.
        package var diskless: Bool
        /// The replication id and offset the RDB was taken at (`+FULLRESYNC <id> <offset>`).
        package var position: ReplicationLink.Position?
    }

    /// Receives the RDB, handing its bytes to `consume` as they arrive.
    /// - Parameters:
    ///   - address: The Redis to copy.
    ///   - credentials: Its password (and ACL user); the user needs `PSYNC` and `REPLCONF`.
    ///   - idleTimeout: How long Redis may send nothing (it sends newlines while it prepares the snapshot).
    ///   - consume: Takes each piece of the RDB, in order.
    /// - Throws: ``RedisError/server(command:message:)`` when Redis refuses `AUTH`, `REPLCONF rdb-only` (Redis
    ///   before 7) or `PSYNC` (an ACL user without it); ``RedisError/connectionClosed(command:)`` when the link
    ///   drops before the whole RDB arrived; ``RedisError/timeout(command:seconds:)`` after `idleTimeout` of silence.
    package static func receive(
        from address: RedisAddress, credentials: RedisCredentials? = nil, connectTimeout: TimeAmount = .seconds(5),
        idleTimeout: TimeAmount = .seconds(60), logger: Logger = Logger(label: "dynokeeper.redis"),
        _ consume: (ByteBuffer) async throws -> Void
    ) async throws -> Summary {
        let channel = try await connectReplicaLink(address, connectTimeout: connectTimeout)
        let watch = Watch()
        return try await withThrowingTaskGroup(of: Summary?.self) { group in
            // Closes the link when Redis stays silent too long; the read below then ends with the timeout.
            group.addTask {
                var seen: Int64 = -1
                while true {
                    try await Task.sleep(for: .nanoseconds(idleTimeout.nanoseconds))
                    let now = watch.reads.load(ordering: .relaxed)
                    if now == seen {
                        watch.timedOut.store(true, ordering: .relaxed)
                        channel.channel.close(promise: nil)
                        return nil
                    }
                    seen = now
                }
            }
            let summary: Summary
            do {
                summary = try await channel.executeThenClose { inbound, outbound in
                    // PSYNC is sent once the other replies are read: Redis refuses it while they are still in
                    // its output buffer ("SYNC and PSYNC are invalid with pending output").
                    var request = ByteBuffer()
                    var commands: [String] = []
                    if let credentials {
                        let auth =
                            credentials.user.map { ["AUTH", $0, credentials.password] } ?? [
                                "AUTH", credentials.password,
                            ]
                        RESPEncoder.encode(auth, into: &request)
                        commands.append("AUTH")
                    }
                    // `capa eof` lets Redis stream the RDB as its fork writes it (diskless); `rdb-only` ends the
                    // link after the RDB, with no command stream.
                    RESPEncoder.encode(["REPLCONF", "capa", "eof"], into: &request)
                    RESPEncoder.encode(["REPLCONF", "rdb-only", "1"], into: &request)
                    commands += ["REPLCONF capa", "REPLCONF rdb-only"]
                    try await outbound.write(request)
                    var frame = Frame(replies: commands)
                    var iterator = inbound.makeAsyncIterator()
                    while frame.awaitingReplies {
                        guard var chunk = try await iterator.next() else {
                            throw RedisError.connectionClosed(command: commands.last!)
                        }
                        watch.reads.add(1, ordering: .relaxed)
                        _ = try await frame.feed(&chunk, consume)
                    }
                    var sync = ByteBuffer()
                    RESPEncoder.encode(["PSYNC", "?", "-1"], into: &sync)
                    try await outbound.write(sync)
                    while var chunk = try await iterator.next() {
                        watch.reads.add(1, ordering: .relaxed)
                        if let done = try await frame.feed(&chunk, consume) { return done }
                    }
                    throw RedisError.connectionClosed(command: "PSYNC")
                }
            } catch {
                group.cancelAll()
                if watch.timedOut.load(ordering: .relaxed) {
                    throw RedisError.timeout(command: "PSYNC", seconds: Double(idleTimeout.nanoseconds) / 1e9)
                }
                throw error
            }
            group.cancelAll()
            logger.debug(
                "received the RDB of \(address): \(summary.bytes) bytes, \(summary.diskless ? "diskless" : "from disk")"
            )
            return summary
        }
    }

    /// A connection that reads as a replica does: pieces of up to 1 MiB (fewer, larger hand-overs to the consumer),
    /// at most four of them waiting for it (back-pressure in bytes, not only in reads).
    static func connectReplicaLink(
        _ address: RedisAddress, connectTimeout: TimeAmount
    ) async throws -> NIOAsyncChannel<ByteBuffer, ByteBuffer> {
        do {
            return try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(connectTimeout)
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .channelOption(
                    .recvAllocator,
                    value: AdaptiveRecvByteBufferAllocator(minimum: 64 << 10, initial: 256 << 10, maximum: 1 << 20)
                )
                .connect(host: address.host, port: address.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try NIOAsyncChannel<ByteBuffer, ByteBuffer>(
                            wrappingChannelSynchronously: channel,
                            configuration: .init(backPressureStrategy: .init(lowWatermark: 1, highWatermark: 4)))
                    }
                }
        } catch {
            throw RedisError.connectionFailed(address: address.description, reason: RedisConnection.describe(error))
        }
    }

    /// What the idle watchdog and the reader share.
    final class Watch: Sendable {
        let reads = Atomic<Int64>(0)
        let timedOut = Atomic<Bool>(false)
    }

    /// Reads the replies to the commands, then the framed RDB.
    struct Frame {
        enum State {
            /// Waiting for the replies to these commands.
            case replies([String])
            /// Waiting for the `$` line, skipping keep-alive newlines.
            case header
            /// Inside `$<length>` framing: bytes still to come.
            case counted(Int64)
            /// Inside `$EOF:` framing: the end marker, and the bytes held back in case they are it.
            case delimited(marker: [UInt8], held: ByteBuffer)
        }

        var state: State
        var pending = ByteBuffer()
        var bytes: Int64 = 0
        /// From the `+FULLRESYNC` line before the RDB, when there was one.
        var position: ReplicationLink.Position?
        let parser = RESPParser()

        init(replies: [String]) { state = .replies(replies) }

        /// Whether replies to the commands before SYNC are still to come.
        var awaitingReplies: Bool {
            if case .replies(let commands) = state { return !commands.isEmpty }
            return false
        }

        /// Takes a chunk; returns the summary once the whole RDB has been handed over.
        ///
        /// The RDB's bytes are handed on as slices of the chunks received, never gathered into a buffer of this
        /// frame's: a slice keeps its whole storage alive, and a consumer that falls behind would otherwise hold
        /// far more memory than the bytes it counts.
        mutating func feed(
            _ chunk: inout ByteBuffer, _ consume: (ByteBuffer) async throws -> Void
        ) async throws -> Summary? {
            var input: ByteBuffer
            if pending.readableBytes > 0 {
                pending.writeBuffer(&chunk)
                input = pending
                pending = ByteBuffer()
            } else {
                input = chunk
            }
            defer { if input.readableBytes > 0 { pending = input } }
            while true {
                switch state {
                case .replies(let commands):
                    guard let command = commands.first else {
                        state = .header
                        continue
                    }
                    guard let reply = try parser.parse(&input) else { return nil }
                    if case .error(let message) = reply { throw RedisError.server(command: command, message: message) }
                    state = .replies(Array(commands.dropFirst()))
                case .header:
                    while input.readableBytesView.first == UInt8(ascii: "\n") {
                        input.moveReaderIndex(forwardBy: 1)
                    }
                    guard let end = input.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
                    let line = String(decoding: input.readableBytesView[..<end], as: UTF8.self)
                        .trimmingSuffix("\r")
                    input.moveReaderIndex(to: end + 1)
                    if line.hasPrefix("-") {
                        throw RedisError.server(command: "PSYNC", message: String(line.dropFirst()))
                    }
                    let words = line.split(separator: " ")
                    if words.first == "+FULLRESYNC", words.count == 3, let offset = Int64(words[2]) {
                        position = ReplicationLink.Position(replicationID: String(words[1]), offset: offset)
                    } else if line.hasPrefix("$EOF:"), line.utf8.count == 45 {
                        state = .delimited(marker: Array(line.utf8.dropFirst(5)), held: ByteBuffer())
                    } else if line.hasPrefix("$"), let length = Int64(line.dropFirst()), length >= 0 {
                        state = .counted(length)
                    } else {
                        throw RedisError.protocolError("unexpected answer to PSYNC: \(line.prefix(80))")
                    }
                case .counted(let remaining):
                    if remaining == 0 { return Summary(bytes: bytes, diskless: false, position: position) }
                    guard input.readableBytes > 0 else { return nil }
                    let take = Int(min(Int64(input.readableBytes), remaining))
                    let piece = input.readSlice(length: take)!
                    bytes += Int64(take)
                    state = .counted(remaining - Int64(take))
                    try await consume(piece)
                case .delimited(let marker, var held):
                    // The last bytes may be the marker: as many are held back (copied, small) until more come.
                    guard input.readableBytes > 0 else { return nil }
                    if input.readableBytes >= marker.count {
                        if held.readableBytes > 0 {
                            bytes += Int64(held.readableBytes)
                            try await consume(held)
                        }
                        let passed = input.readableBytes - marker.count
                        if passed > 0 {
                            bytes += Int64(passed)
                            try await consume(input.readSlice(length: passed)!)
                        }
                        held = ByteBuffer(bytes: input.readableBytesView)
                    } else {
                        held.writeBuffer(&input)
                        if held.readableBytes > marker.count {
                            let passed = held.readableBytes - marker.count
                            bytes += Int64(passed)
                            try await consume(ByteBuffer(bytes: held.readableBytesView.prefix(passed)))
                            held = ByteBuffer(bytes: held.readableBytesView.suffix(marker.count))
                        }
                    }
                    input.clear()
                    if held.readableBytes == marker.count, Array(held.readableBytesView) == marker {
                        return Summary(bytes: bytes, diskless: true, position: position)
                    }
                    state = .delimited(marker: marker, held: held)
                    return nil
                }
            }
        }
    }
}

extension String {
    fileprivate func trimmingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}

extension RedisError {
    /// Whether Redis refused to hand its RDB to a replica (an ACL user without SYNC or REPLCONF, a Redis before 7
    /// that knows no `rdb-only`), so that a backup can take it with BGSAVE instead.
    package var refusesReplication: Bool {
        guard case .server(let command, _) = self else { return false }
        return command == "SYNC" || command == "PSYNC" || command.hasPrefix("REPLCONF")
    }
}
