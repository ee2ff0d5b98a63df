import Crypto
package import DynokeeperConfiguration
import Foundation
package import NIOCore
import ObjectStorage
import Zstd

/// One stored piece of a node's archived command stream: the commands Redis sent its replicas between two
/// replication offsets, each with the time it arrived.
///
/// Stored under `<cluster>/<dc>/<rack>/<tokens>/_pitr/<replication id>/` as
/// `<start offset>-<end offset>-<opened ms>-<closed ms>.seg.zst` (`.enc` when encrypted), so that a listing alone
/// tells which offsets and which moments the archive covers. The body, before compression:
///
///     "DKSEG\u{1}"  u32 header length  header (JSON)
///     records: u64 offset after the command  i64 arrival (epoch ms)  u32 length  the command's RESP bytes
///     "DKEND"  SHA-256 of everything before
///
/// The trailer makes a truncated or altered segment fail its check rather than replay part of the stream.
package struct StreamSegment: Sendable, Equatable {
    /// What a segment's object name says.
    package struct Name: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
        package var replicationID: String
        /// The offset of the last byte before the first command (the base's offset when it starts a stream).
        package var startOffset: Int64
        /// The offset of the last byte of the last command.
        package var endOffset: Int64
        /// Every command that reached Redis from this moment on (epoch ms) up to `closedAt` is in the segment,
        /// or in the ones that follow it.
        package var openedAt: Int64
        /// The moment the segment was closed: every command that arrived up to it is in this segment or before.
        package var closedAt: Int64

        package init(replicationID: String, startOffset: Int64, endOffset: Int64, openedAt: Int64, closedAt: Int64) {
            self.replicationID = replicationID
            self.startOffset = startOffset
            self.endOffset = endOffset
            self.openedAt = openedAt
            self.closedAt = closedAt
        }

        /// The object name within the replication id's folder.
        package var objectName: String {
            func padded(_ value: Int64, _ width: Int) -> String {
                let text = String(value)
                return String(repeating: "0", count: max(0, width - text.count)) + text
            }
            return
                "\(padded(startOffset, 20))-\(padded(endOffset, 20))-\(padded(openedAt, 13))-\(padded(closedAt, 13))\(StreamSegment.suffix)"
        }

        /// Reads a name back (`encrypted` tells whether the object ends in `.enc`); `nil` for other objects.
        package init?(replicationID: String, objectName: String) {
            var name = objectName
            if name.hasSuffix(ChunkedEncryption.objectSuffix) { name.removeLast(ChunkedEncryption.objectSuffix.count) }
            guard name.hasSuffix(StreamSegment.suffix) else { return nil }
            name.removeLast(StreamSegment.suffix.count)
            let parts = name.split(separator: "-")
            guard parts.count == 4, let start = Int64(parts[0]), let end = Int64(parts[1]),
                let opened = Int64(parts[2]), let closed = Int64(parts[3]), start <= end, opened <= closed,
                StreamSegment.isReplicationID(replicationID)
            else { return nil }
            self.init(
                replicationID: replicationID, startOffset: start, endOffset: end, openedAt: opened, closedAt: closed)
        }

        // Spelled so that the snake_case strategies map `replication_id` both ways.
        enum CodingKeys: String, CodingKey {
            case replicationID = "replicationId", startOffset, endOffset, openedAt, closedAt
        }

        package static func < (a: Name, b: Name) -> Bool {
            (a.replicationID, a.startOffset, a.openedAt) < (b.replicationID, b.startOffset, b.openedAt)
        }

        package var description: String {
            "\(replicationID.prefix(8))…:\(startOffset)-\(endOffset)"
        }
    }

    /// One command of the stream.
    package struct Record: Sendable, Equatable {
        /// The replication offset after it.
        package var offset: Int64
        /// When it arrived (epoch ms).
        package var time: Int64
        /// Its RESP bytes, as Redis sent them.
        package var command: ByteBuffer

        package init(offset: Int64, time: Int64, command: ByteBuffer) {
            self.offset = offset
            self.time = time
            self.command = command
        }
    }

    /// What the header holds besides the name.
    struct Header: Codable, Equatable {
        var replicationID: String
        var startOffset: Int64
        var endOffset: Int64
        var openedAt: Int64
        var closedAt: Int64
        /// The database selected at the start offset (`SELECT` in the stream changes it); `nil` right after a full
        /// resynchronisation, when Redis selects one before its first command.
        var startDB: Int?
        var records: Int
        var checkpoints: [Checkpoint]?

        enum CodingKeys: String, CodingKey {
            case replicationID = "replication_id", startOffset = "start_offset", endOffset = "end_offset"
            case openedAt = "opened_at_ms", closedAt = "closed_at_ms", startDB = "start_db", records, checkpoints
        }
    }

    /// Where a marker stands in the stream, with Redis's key counts right after it (`INFO keyspace` sent in the
    /// same write as the marker): a restore to that offset checks the data against them.
    package struct Checkpoint: Sendable, Codable, Equatable {
        package var offset: Int64
        /// Keys and keys with a TTL, by database (`db0`, …).
        package var keyspace: [String: RestoreJournal.KeyCount]

        package init(offset: Int64, keyspace: [String: RestoreJournal.KeyCount]) {
            self.offset = offset
            self.keyspace = keyspace
        }
    }

    package var name: Name
    package var startDB: Int?
    package var records: [Record]
    package var checkpoints: [Checkpoint] = []

    package init(name: Name, startDB: Int?, records: [Record], checkpoints: [Checkpoint] = []) {
        self.checkpoints = checkpoints
        self.name = name
        self.startDB = startDB
        self.records = records
    }

    static let suffix = ".seg.zst"
    static let magic = Array("DKSEG\u{1}".utf8)
    static let trailer = Array("DKEND".utf8)

    /// The folder of a node's archive: `<cluster>/<dc>/<rack>/<tokens>/_pitr/`.
    package static func archivePrefix(_ node: NodeIdentity) -> String { SnapshotLayout.nodePrefix(node) + "_pitr/" }

    /// The object key of a segment.
    package static func key(_ node: NodeIdentity, _ name: Name, encrypted: Bool) -> String {
        archivePrefix(node) + name.replicationID + "/" + name.objectName
            + (encrypted ? ChunkedEncryption.objectSuffix : "")
    }

    /// Whether a folder name is a replication id (40 hexadecimal digits).
    static func isReplicationID(_ text: String) -> Bool {
        text.utf8.count == 40 && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    /// The context an encrypted segment binds: its node and its name.
    static func encryptionContext(_ node: NodeIdentity, _ name: Name) -> String {
        ChunkedEncryption.context(
            snapshot: "pitr/\(name.replicationID)", node: "\(node.cluster)/\(node)", file: name.objectName)
    }

    // MARK: Encoding

    /// The body before compression.
    func encode() throws -> ByteBuffer {
        var records = ByteBuffer()
        for record in self.records { Self.append(record, to: &records) }
        return try Self.encode(
            name: name, startDB: startDB, count: self.records.count, records: records, checkpoints: checkpoints)
    }

    /// Appends a record as the body holds it; returns where its time is (to lower it later).
    @discardableResult
    static func append(_ record: Record, to records: inout ByteBuffer) -> Int {
        records.writeInteger(UInt64(record.offset))
        let time = records.writerIndex
        records.writeInteger(record.time)
        records.writeInteger(UInt32(record.command.readableBytes))
        records.writeImmutableBuffer(record.command)
        return time
    }

    /// The body of a segment whose records are already encoded (``append(_:to:)``).
    static func encode(
        name: Name, startDB: Int?, count: Int, records: ByteBuffer, checkpoints: [Checkpoint] = []
    ) throws -> ByteBuffer {
        let header = try JSONEncoder().encode(
            Header(
                replicationID: name.replicationID, startOffset: name.startOffset, endOffset: name.endOffset,
                openedAt: name.openedAt, closedAt: name.closedAt, startDB: startDB, records: count,
                checkpoints: checkpoints.isEmpty ? nil : checkpoints))
        var body = ByteBuffer()
        body.reserveCapacity(64 + header.count + records.readableBytes)
        body.writeBytes(Self.magic)
        body.writeInteger(UInt32(header.count))
        body.writeBytes(header)
        body.writeImmutableBuffer(records)
        let digest = body.withUnsafeReadableBytes { Array(SHA256.hash(data: $0)) }
        body.writeBytes(Self.trailer)
        body.writeBytes(digest)
        return body
    }

    /// The stored object: compressed, and encrypted with `key` when given.
    package func stored(node: NodeIdentity, key: SnapshotKeyring.Key?) async throws -> ByteBuffer {
        try await Self.stored(try encode(), name: name, node: node, key: key)
    }

    /// A body (``encode(name:startDB:count:records:)``) as it is stored: compressed, and encrypted with `key`.
    static func stored(
        _ body: ByteBuffer, name: Name, node: NodeIdentity, key: SnapshotKeyring.Key?
    ) async throws
        -> ByteBuffer
    {
        let compressor = try ZstdCompressor(level: 3)
        var compressed = ByteBuffer()
        try compressor.compress(body, into: &compressed)
        try compressor.finish(into: &compressed)
        guard let key else { return compressed }
        var sealed = ByteBuffer()
        let context = encryptionContext(node, name)
        for try await piece in EncryptingSequence(ByteStream(buffers: [compressed]), key: key, context: context) {
            var piece = piece
            sealed.writeBuffer(&piece)
        }
        return sealed
    }

    /// Reads a stored object back: decrypted, decompressed, checked against its trailer and its name.
    /// - Throws: ``DynokeeperError`` naming what is wrong (damaged, truncated, another segment's).
    package static func read(
        _ stored: ByteBuffer, name: Name, encrypted: Bool, node: NodeIdentity, keys: SnapshotKeyring
    ) async throws -> StreamSegment {
        let what = "archive segment \(name.replicationID)/\(name.objectName)"
        var compressed = stored
        if encrypted {
            // The key is named in the object's header; any key of the keyring that has that fingerprint opens it.
            let fingerprint = try ChunkedEncryption.fingerprint(in: stored, what: what)
            let key = try keys.key(fingerprint: fingerprint, for: what)
            compressed = ByteBuffer()
            do {
                let sequence = DecryptingSequence(
                    ByteStream(buffers: [stored]), key: key, context: encryptionContext(node, name))
                for try await piece in sequence {
                    var piece = piece
                    compressed.writeBuffer(&piece)
                }
            } catch {
                throw DynokeeperError.snapshot("\(what) does not decrypt: \(error)")
            }
        }
        var body = ByteBuffer()
        do {
            let decompressor = try ZstdDecompressor(limit: 2 << 30)
            try decompressor.decompress(compressed, into: &body)
            try decompressor.finish()
        } catch {
            throw DynokeeperError.snapshot("\(what) is damaged: it does not decompress (\(error))")
        }
        return try decode(body, name: name, what: what)
    }

    static func decode(_ body: ByteBuffer, name: Name, what: String) throws -> StreamSegment {
        let damaged = { (why: String) in DynokeeperError.snapshot("\(what) is damaged: \(why)") }
        guard body.readableBytes >= magic.count + 4 + trailer.count + 32,
            body.getBytes(at: body.readerIndex, length: magic.count) == magic
        else { throw damaged("it is not a dynokeeper archive segment") }
        let contentLength = body.readableBytes - trailer.count - 32
        let content = body.getSlice(at: body.readerIndex, length: contentLength)!
        guard body.getBytes(at: body.readerIndex + contentLength, length: trailer.count) == trailer,
            let recorded = body.getBytes(at: body.readerIndex + contentLength + trailer.count, length: 32),
            content.withUnsafeReadableBytes { Array(SHA256.hash(data: $0)) } == recorded
        else { throw damaged("its checksum does not match (truncated or altered)") }
        var input = content
        input.moveReaderIndex(forwardBy: magic.count)
        guard let headerLength = input.readInteger(as: UInt32.self),
            let headerBytes = input.readBytes(length: Int(headerLength)),
            let header = try? JSONDecoder().decode(Header.self, from: Data(headerBytes))
        else { throw damaged("its header does not read") }
        guard header.replicationID == name.replicationID, header.startOffset == name.startOffset,
            header.endOffset == name.endOffset, header.openedAt == name.openedAt, header.closedAt == name.closedAt
        else { throw damaged("its header describes another segment (\(header.startOffset)-\(header.endOffset))") }
        var records: [Record] = []
        records.reserveCapacity(header.records)
        var offset = header.startOffset
        while input.readableBytes > 0 {
            guard let after = input.readInteger(as: UInt64.self), let time = input.readInteger(as: Int64.self),
                let length = input.readInteger(as: UInt32.self), let command = input.readSlice(length: Int(length)),
                Int64(after) == offset + Int64(length)
            else { throw damaged("record \(records.count + 1) does not read") }
            offset = Int64(after)
            records.append(Record(offset: offset, time: time, command: command))
        }
        guard records.count == header.records, offset == header.endOffset else {
            throw damaged(
                "it holds \(records.count) commands up to offset \(offset), its header says \(header.records) up to \(header.endOffset)"
            )
        }
        return StreamSegment(
            name: name, startDB: header.startDB, records: records, checkpoints: header.checkpoints ?? [])
    }
}
