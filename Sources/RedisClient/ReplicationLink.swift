package import NIOCore
import NIOPosix
import Synchronization

/// Follows a Redis master as a replica does (`PSYNC`), handing on what it sends: on a full resynchronisation the
/// RDB, then the command stream, each command with the replication offset after it. Offsets are acknowledged with
/// `REPLCONF ACK` every second (and soon after `REPLCONF GETACK`), as a replica does, so that the master counts this
/// link as a healthy replica and `WAIT` is not held up.
///
/// The master sends the stream only after the replica acknowledges a diskless RDB (Redis 7), so the `$EOF:` marker
/// always ends what was read; after a `$<length>` RDB, the stream may follow in the same read.
package enum ReplicationLink {
    /// A point in a replication history: its id, and the offset of the last byte processed (`master_repl_offset`).
    package struct Position: Sendable, Equatable, Codable, CustomStringConvertible {
        package var replicationID: String
        package var offset: Int64

        package init(replicationID: String, offset: Int64) {
            self.replicationID = replicationID
            self.offset = offset
        }

        package var description: String { "\(replicationID):\(offset)" }
    }

    package enum Event: Sendable {
        /// The master starts a full resynchronisation: its RDB follows, taken at this position.
        case fullSync(Position)
        /// The master continues from the position asked for (its replication id may have changed, after a
        /// failover, with the offsets kept).
        case continued(Position)
        /// A piece of the RDB.
        case rdb(ByteBuffer)
        /// The whole RDB has arrived; the command stream follows.
        case rdbEnd(bytes: Int64)
        /// One command of the stream, as its RESP bytes, its lower-cased name, and the offset after it.
        case command(raw: ByteBuffer, name: String, offset: Int64)
    }

    /// Follows the master until the link breaks, `handle` throws, or the task is cancelled.
    /// - Parameters:
    ///   - position: Where to continue (`PSYNC <id> <offset+1>`), or `nil` for a full resynchronisation.
    ///   - idleTimeout: How long the master may send nothing (it pings every `repl-ping-replica-period`, 10 s).
    /// - Throws: ``RedisError`` when Redis refuses (`AUTH`, `REPLCONF`, `PSYNC`: an ACL user without them) or the
    ///   link drops; or what `handle` throws.
    package static func follow(
        _ address: RedisAddress, credentials: RedisCredentials? = nil, from position: Position?,
        connectTimeout: TimeAmount = .seconds(5), idleTimeout: TimeAmount = .seconds(60),
        _ handle: @escaping @Sendable (Event) async throws -> Void
    ) async throws {
        let channel = try await RDBTransfer.connectReplicaLink(address, connectTimeout: connectTimeout)
        let shared = Shared()
        try await channel.executeThenClose { inbound, outbound in
            try await withThrowingTaskGroup(of: Void.self) { group in
                // Acknowledges the offset every second, or within 100 ms of a GETACK; closes a silent link.
                group.addTask {
                    var sinceAck = 0
                    var lastReads: Int64 = -1
                    var silent = Duration.zero
                    while !Task.isCancelled {
                        try await Task.sleep(for: .milliseconds(100))
                        sinceAck += 1
                        let reads = shared.reads.load(ordering: .relaxed)
                        silent = reads == lastReads ? silent + .milliseconds(100) : .zero
                        lastReads = reads
                        if silent >= .nanoseconds(idleTimeout.nanoseconds) {
                            shared.timedOut.store(true, ordering: .relaxed)
                            channel.channel.close(promise: nil)
                            throw RedisError.timeout(command: "PSYNC", seconds: Double(idleTimeout.nanoseconds) / 1e9)
                        }
                        let offset = shared.offset.load(ordering: .relaxed)
                        guard offset >= 0, sinceAck >= 10 || shared.ackRequested.exchange(false, ordering: .relaxed)
                        else { continue }
                        var ack = ByteBuffer()
                        RESPEncoder.encode(["REPLCONF", "ACK", String(offset)], into: &ack)
                        try await outbound.write(ack)
                        sinceAck = 0
                    }
                }
                group.addTask {
                    do {
                        try await read(
                            inbound: inbound, outbound: outbound, credentials: credentials, position: position,
                            shared: shared, handle)
                    } catch {
                        if shared.timedOut.load(ordering: .relaxed) {
                            throw RedisError.timeout(command: "PSYNC", seconds: Double(idleTimeout.nanoseconds) / 1e9)
                        }
                        throw error
                    }
                    throw RedisError.connectionClosed(command: "the replication stream")
                }
                defer { group.cancelAll() }
                try await group.next()
            }
        }
    }

    /// What the reader and the acknowledging task share.
    final class Shared: Sendable {
        let offset = Atomic<Int64>(-1)
        let reads = Atomic<Int64>(0)
        let ackRequested = Atomic<Bool>(false)
        let timedOut = Atomic<Bool>(false)
    }

    private static func read(
        inbound: NIOAsyncChannelInboundStream<ByteBuffer>, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>,
        credentials: RedisCredentials?, position: Position?, shared: Shared,
        _ handle: @Sendable (Event) async throws -> Void
    ) async throws {
        var request = ByteBuffer()
        var commands: [String] = []
        if let credentials {
            RESPEncoder.encode(
                credentials.user.map { ["AUTH", $0, credentials.password] } ?? ["AUTH", credentials.password],
                into: &request)
            commands.append("AUTH")
        }
        RESPEncoder.encode(["REPLCONF", "capa", "eof", "capa", "psync2"], into: &request)
        commands.append("REPLCONF capa")
        try await outbound.write(request)
        var frame = RDBTransfer.Frame(replies: commands)
        var iterator = inbound.makeAsyncIterator()
        var rdbBytes: Int64 = 0
        while frame.awaitingReplies {
            guard var chunk = try await iterator.next() else { throw RedisError.connectionClosed(command: "REPLCONF") }
            shared.reads.add(1, ordering: .relaxed)
            _ = try await frame.feed(&chunk) { _ in }
        }
        var psync = ByteBuffer()
        RESPEncoder.encode(
            ["PSYNC", position?.replicationID ?? "?", position.map { String($0.offset + 1) } ?? "-1"], into: &psync)
        try await outbound.write(psync)

        // The answer: +FULLRESYNC <id> <offset>, or +CONTINUE [<id>], after keep-alive newlines.
        var buffer = frame.pending
        var offset: Int64
        var full: Bool
        while true {
            while buffer.readableBytesView.first == UInt8(ascii: "\n") { buffer.moveReaderIndex(forwardBy: 1) }
            if let end = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
                var line = String(decoding: buffer.readableBytesView[..<end], as: UTF8.self)
                if line.hasSuffix("\r") { line.removeLast() }
                buffer.moveReaderIndex(to: end + 1)
                let words = line.split(separator: " ").map(String.init)
                if line.hasPrefix("-") { throw RedisError.server(command: "PSYNC", message: String(line.dropFirst())) }
                if words.first == "+FULLRESYNC", words.count == 3, let start = Int64(words[2]) {
                    offset = start
                    full = true
                    try await handle(.fullSync(Position(replicationID: words[1], offset: start)))
                } else if words.first == "+CONTINUE", let position {
                    offset = position.offset
                    full = false
                    let id = words.count > 1 ? words[1] : position.replicationID
                    try await handle(.continued(Position(replicationID: id, offset: offset)))
                } else {
                    throw RedisError.protocolError("unexpected answer to PSYNC: \(line.prefix(80))")
                }
                break
            }
            guard var chunk = try await iterator.next() else { throw RedisError.connectionClosed(command: "PSYNC") }
            shared.reads.add(1, ordering: .relaxed)
            buffer.writeBuffer(&chunk)
        }

        if full {
            // The RDB, framed as for SYNC; the stream may follow a counted one in the same read.
            var rdb = RDBTransfer.Frame(replies: [])
            var input = buffer
            buffer = ByteBuffer()
            while true {
                if let done = try await rdb.feed(&input, { try await handle(.rdb($0)) }) {
                    rdbBytes = done.bytes
                    break
                }
                guard let chunk = try await iterator.next() else { throw RedisError.connectionClosed(command: "PSYNC") }
                shared.reads.add(1, ordering: .relaxed)
                input = chunk
            }
            buffer = rdb.pending
            try await handle(.rdbEnd(bytes: rdbBytes))
        }
        // The master starts the stream once the replica acknowledges (it then knows the RDB was taken in).
        shared.offset.store(offset, ordering: .relaxed)
        shared.ackRequested.store(true, ordering: .relaxed)

        let parser = RESPParser()
        while true {
            while true {
                let unread = buffer
                guard let value = try parser.parse(&buffer) else { break }
                let length = buffer.readerIndex - unread.readerIndex
                let raw = unread.getSlice(at: unread.readerIndex, length: length)!
                offset += Int64(length)
                guard case .array(let items?) = value, case .bulkString(let first?)? = items.first else {
                    throw RedisError.protocolError("the replication stream holds something that is not a command")
                }
                let name = String(buffer: first).lowercased()
                if name == "replconf", items.count >= 2, case .bulkString(let sub?) = items[1],
                    String(buffer: sub).lowercased() == "getack"
                {
                    shared.ackRequested.store(true, ordering: .relaxed)
                }
                try await handle(.command(raw: raw, name: name, offset: offset))
                shared.offset.store(offset, ordering: .relaxed)
            }
            buffer.discardReadBytes()
            guard var chunk = try await iterator.next() else { return }
            shared.reads.add(1, ordering: .relaxed)
            buffer.writeBuffer(&chunk)
        }
    }
}
