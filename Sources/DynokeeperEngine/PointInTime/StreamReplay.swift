import DynokeeperConfiguration
import Foundation
import NIOCore
import RedisClient
import Synchronization

/// The archived commands a point-in-time restore applies after its base, as what follows the RDB on a replication
/// link (``OnlineLoad/Continuation``): Redis applies them as a replica applies its master's stream, so expiries
/// behave as they did (a key whose time has passed since is neither dropped early nor recreated without its TTL by a
/// later `INCR`), no reply is waited for, and no ACL is needed beyond the load's.
///
/// Read from the fetched segments one at a time (each checked again), from the base's offset to the target's.
final class StreamReplay: Sendable {
    /// The fetched segments, in order, with their files.
    let segments: [(path: String, segment: PointInTimeArchive.StoredSegment)]
    let node: NodeIdentity
    let keys: SnapshotKeyring
    /// Commands up to this offset are in the base.
    let baseOffset: Int64
    /// The offset after the last command to apply.
    let targetOffset: Int64
    /// The last marker before the target, whose key counts the data is checked against.
    let checkpoint: StreamSegment.Checkpoint?

    struct Outcome: Sendable {
        var commands = 0
        var bytes: Int64 = 0
    }

    private let counted = Mutex(Outcome())

    init(
        segments: [(path: String, segment: PointInTimeArchive.StoredSegment)], node: NodeIdentity,
        keys: SnapshotKeyring, baseOffset: Int64, targetOffset: Int64, checkpoint: StreamSegment.Checkpoint?
    ) {
        self.checkpoint = checkpoint
        self.segments = segments
        self.node = node
        self.keys = keys
        self.baseOffset = baseOffset
        self.targetOffset = targetOffset
    }

    /// What was sent, once the continuation has run.
    var outcome: Outcome { counted.withLock { $0 } }

    /// Commands that are not data: the link's own (`REPLCONF`, `PING`) and messages (`PUBLISH`), which would reach
    /// the restored node's subscribers again.
    static let skipped: Set<String> = ["replconf", "ping", "publish", "spublish"]

    var continuation: OnlineLoad.Continuation {
        var continuation = OnlineLoad.Continuation { [self] send, reached in
            // The stream names the database only when it changes: the one selected at the base's offset goes first.
            var db: Int?
            var started = false
            var batch = ByteBuffer()
            var outcome = Outcome()
            for (index, entry) in segments.enumerated() {
                guard let data = FileManager.default.contents(atPath: entry.path) else {
                    throw DynokeeperError.snapshot("the fetched archive segment \(entry.path) is gone")
                }
                let segment = try await StreamSegment.read(
                    ByteBuffer(bytes: data), name: entry.segment.name, encrypted: entry.segment.encrypted, node: node,
                    keys: keys)
                if index == 0 { db = segment.startDB }
                for record in segment.records where record.offset <= targetOffset {
                    if record.offset <= baseOffset {
                        if let selected = StreamArchiver.selectedDatabase(record.command) { db = selected }
                        continue
                    }
                    if !started {
                        RESPEncoder.encode(["SELECT", String(db ?? 0)], into: &batch)
                        started = true
                    }
                    if !Self.skipped.contains(Self.name(record.command)) {
                        var command = record.command
                        batch.writeBuffer(&command)
                        outcome.commands += 1
                    }
                    let atCheckpoint = record.offset == checkpoint?.offset
                    if batch.readableBytes >= 1 << 20 || (atCheckpoint && batch.readableBytes > 0) {
                        outcome.bytes += Int64(batch.readableBytes)
                        try await send(batch)
                        batch = ByteBuffer()
                    }
                    if atCheckpoint { try await reached(outcome.bytes) }
                }
            }
            if batch.readableBytes > 0 {
                outcome.bytes += Int64(batch.readableBytes)
                try await send(batch)
            }
            // The tests' kill point in the middle of a replay: Redis holds everything, still a replica of the feed.
            CrashPoint.journalSaved()
            counted.withLock { $0 = outcome }
            return outcome.bytes
        }
        continuation.keyspace = checkpoint?.keyspace
        return continuation
    }

    /// The lower-cased name of a RESP command (its first bulk string).
    static func name(_ raw: ByteBuffer) -> String {
        let bytes = raw.readableBytesView
        // *<n>\r\n$<len>\r\n<name>\r\n
        guard let first = bytes.firstIndex(of: UInt8(ascii: "\n")),
            let dollarLineEnd = bytes[(first + 1)...].firstIndex(of: UInt8(ascii: "\n")),
            let length = Int(String(decoding: bytes[(first + 2)..<(dollarLineEnd - 1)], as: UTF8.self)),
            dollarLineEnd + 1 + length <= bytes.endIndex
        else { return "" }
        return String(decoding: bytes[(dollarLineEnd + 1)..<(dollarLineEnd + 1 + length)], as: UTF8.self).lowercased()
    }
}
