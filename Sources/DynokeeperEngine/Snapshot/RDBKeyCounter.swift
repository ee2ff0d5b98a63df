package import NIOCore

/// Counts the keys (and the keys with a TTL) of each database of an RDB as its bytes stream by, skipping the
/// values without holding them: the exact key counts of a snapshot taken from Redis's replication stream, where
/// `INFO keyspace` can only be read before or after the fork (Redis refuses `SYNC` with replies pending).
///
/// Knows the RDB formats of Redis up to 7.2 (RDB 11): every value type, LZF and integer string encodings,
/// streams with consumer groups, module values (their opcodes), functions and the auxiliary fields.
package struct RDBKeyCounter {
    /// Keys, and keys with a TTL, of one database.
    package struct Counts: Sendable, Equatable {
        package var keys: Int
        package var expires: Int

        package init(keys: Int = 0, expires: Int = 0) {
            self.keys = keys
            self.expires = expires
        }
    }

    /// Reads an RDB to its end (opcode 0xFF) and returns the counts per database.
    /// - Throws: ``RDBFormatError`` for bytes that are not an RDB this counter knows, or an RDB that ends early.
    package static func count<Chunks: AsyncSequence>(
        _ chunks: Chunks
    ) async throws -> [Int: Counts] where Chunks.Element == ByteBuffer {
        var reader = Reader(chunks.makeAsyncIterator())
        let header = try await reader.bytes(9)
        guard let version = RDBVersion.parse(header: header) else {
            throw RDBFormatError("not an RDB: no REDIS header")
        }
        guard version <= 12 else { throw RDBFormatError("RDB format \(version) is newer than this counter knows") }
        var counts: [Int: Counts] = [:]
        var database = 0
        var expiring = false
        while true {
            let opcode = try await reader.byte()
            switch opcode {
            case 0xFF: return counts  // EOF (a checksum follows)
            case 0xFE: database = Int(try await reader.length())  // SELECTDB
            case 0xFD:  // EXPIRETIME (seconds)
                try await reader.skip(4)
                expiring = true
            case 0xFC:  // EXPIRETIME_MS
                try await reader.skip(8)
                expiring = true
            case 0xFB:  // RESIZEDB
                _ = try await reader.length()
                _ = try await reader.length()
            case 0xFA:  // AUX
                try await reader.skipString()
                try await reader.skipString()
            case 0xF9: try await reader.skip(1)  // FREQ
            case 0xF8: _ = try await reader.length()  // IDLE
            case 0xF7:  // MODULE_AUX
                _ = try await reader.length()
                try await reader.skipModuleValue()
            case 0xF5: try await reader.skipString()  // FUNCTION2: the library's code
            case 0xF6: throw RDBFormatError("functions of Redis 7.0's release candidates are not supported")
            default:
                try await reader.skipString()  // the key
                try await reader.skipValue(type: opcode)
                counts[database, default: Counts()].keys += 1
                if expiring { counts[database, default: Counts()].expires += 1 }
                expiring = false
            }
        }
    }

    /// Pulls bytes from the chunks as the parser needs them; skipped bytes are never copied.
    struct Reader<Iterator: AsyncIteratorProtocol> where Iterator.Element == ByteBuffer {
        var iterator: Iterator
        var buffer = ByteBuffer()

        init(_ iterator: Iterator) { self.iterator = iterator }

        mutating func fill(_ count: Int) async throws {
            while buffer.readableBytes < count {
                guard var next = try await iterator.next() else { throw RDBFormatError("the RDB ends early") }
                buffer.discardReadBytes()
                buffer.writeBuffer(&next)
            }
        }

        mutating func byte() async throws -> UInt8 {
            try await fill(1)
            return buffer.readInteger()!
        }

        mutating func bytes(_ count: Int) async throws -> [UInt8] {
            try await fill(count)
            return buffer.readBytes(length: count)!
        }

        mutating func skip(_ count: Int64) async throws {
            var left = count
            while left > 0 {
                if buffer.readableBytes == 0 { try await fill(1) }
                let step = Int(min(Int64(buffer.readableBytes), left))
                buffer.moveReaderIndex(forwardBy: step)
                left -= Int64(step)
            }
        }

        /// A length, or `nil` for a special string encoding (its code in `special`).
        mutating func lengthOrEncoding() async throws -> (length: UInt64, special: Bool) {
            let first = try await byte()
            switch first >> 6 {
            case 0: return (UInt64(first & 0x3F), false)
            case 1: return ((UInt64(first & 0x3F) << 8) | UInt64(try await byte()), false)
            case 2:
                let wide = try await bytes(first == 0x80 ? 4 : 8)
                guard first == 0x80 || first == 0x81 else { throw RDBFormatError("bad length prefix \(first)") }
                return (wide.reduce(0) { ($0 << 8) | UInt64($1) }, false)
            default: return (UInt64(first & 0x3F), true)
            }
        }

        mutating func length() async throws -> UInt64 {
            let (value, special) = try await lengthOrEncoding()
            guard !special else { throw RDBFormatError("an encoded string where a length belongs") }
            return value
        }

        /// A string in any of its encodings: plain, 8/16/32-bit integer, or LZF-compressed.
        mutating func skipString() async throws {
            let (value, special) = try await lengthOrEncoding()
            guard special else { return try await skip(Int64(value)) }
            switch value {
            case 0: try await skip(1)
            case 1: try await skip(2)
            case 2: try await skip(4)
            case 3:  // LZF: compressed length, uncompressed length, the compressed bytes
                let compressed = try await length()
                _ = try await length()
                try await skip(Int64(compressed))
            default: throw RDBFormatError("unknown string encoding \(value)")
            }
        }

        /// A sorted-set score of RDB_TYPE_ZSET: a length byte, or 253-255 for NaN and the infinities.
        mutating func skipOldDouble() async throws {
            let size = try await byte()
            if size < 253 { try await skip(Int64(size)) }
        }

        /// A module value: opcodes until EOF (0).
        mutating func skipModuleValue() async throws {
            while true {
                switch try await length() {
                case 0: return
                case 1, 2: _ = try await length()  // signed, unsigned integers
                case 3: try await skip(4)  // float
                case 4: try await skip(8)  // double
                case 5: try await skipString()
                case let opcode: throw RDBFormatError("unknown module opcode \(opcode)")
                }
            }
        }

        mutating func skipStrings(_ count: UInt64) async throws {
            for _ in 0..<count { try await skipString() }
        }

        mutating func skipValue(type: UInt8) async throws {
            switch type {
            case 0, 9, 10, 11, 12, 13, 16, 17, 20: try await skipString()  // string, or one encoded blob
            case 1, 2: try await skipStrings(try await length())  // list, set
            case 3:  // zset: member, old-style score
                for _ in 0..<(try await length()) {
                    try await skipString()
                    try await skipOldDouble()
                }
            case 4: try await skipStrings(try await length() * 2)  // hash: field, value
            case 5:  // zset 2: member, binary double
                for _ in 0..<(try await length()) {
                    try await skipString()
                    try await skip(8)
                }
            case 6: throw RDBFormatError("module values of the pre-release format are not supported")
            case 7:  // module 2: id, then opcodes
                _ = try await length()
                try await skipModuleValue()
            case 14: try await skipStrings(try await length())  // quicklist of ziplists
            case 18:  // quicklist 2: container kind, listpack or plain node
                for _ in 0..<(try await length()) {
                    _ = try await length()
                    try await skipString()
                }
            case 15, 19, 21: try await skipStream(version: type == 15 ? 1 : type == 19 ? 2 : 3)
            default: throw RDBFormatError("unknown value type \(type)")
            }
        }

        /// A stream: its listpacks, its last id (and more since RDB 10), its consumer groups with their pending
        /// entries and consumers.
        mutating func skipStream(version: Int) async throws {
            for _ in 0..<(try await length()) {
                try await skipString()  // master id
                try await skipString()  // listpack
            }
            _ = try await length()  // items
            _ = try await length()  // last id ms
            _ = try await length()  // last id seq
            if version >= 2 {
                for _ in 0..<5 { _ = try await length() }  // first id, max deleted id, entries added
            }
            for _ in 0..<(try await length()) {  // consumer groups
                try await skipString()  // name
                _ = try await length()  // last id ms
                _ = try await length()  // last id seq
                if version >= 2 { _ = try await length() }  // entries read
                for _ in 0..<(try await length()) {  // pending entries: id, delivery time, delivery count
                    try await skip(16 + 8)
                    _ = try await length()
                }
                for _ in 0..<(try await length()) {  // consumers
                    try await skipString()  // name
                    try await skip(8)  // seen time
                    if version >= 3 { try await skip(8) }  // active time
                    try await skip(Int64(try await length()) * 16)  // their pending ids
                }
            }
        }
    }
}

/// Bytes that are not an RDB the counter knows.
package struct RDBFormatError: Error, Sendable, CustomStringConvertible {
    package var description: String
    package init(_ description: String) { self.description = description }
}
