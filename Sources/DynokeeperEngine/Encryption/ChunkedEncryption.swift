import Crypto
import Foundation
package import NIOCore

/// dynokeeper's encrypted object: a 64-byte header, then the data in AES-256-GCM chunks of a fixed size.
///
/// - Header: `DKAEAD01`, the chunk size (UInt32, big-endian), 4 zero bytes, the key's fingerprint (16 bytes) and a
///   random salt (32 bytes).
/// - Each object has a key of its own, derived with HKDF-SHA256 from the configured key and the salt, so a chunk's
///   nonce (its index, big-endian, in 12 bytes) is never used twice with one key, even when an object is written again.
/// - Each chunk is its ciphertext and a 16-byte tag; every chunk but the last holds exactly the chunk size, the last
///   fewer (possibly none). Its associated data is the header, the object's context (snapshot id, node and file name),
///   its index and whether it is the last: a chunk moved, dropped, reordered or taken from another object or snapshot
///   fails to decrypt, and so does an object cut at a chunk boundary.
/// - Fixed-size chunks keep the object seekable: byte `n` of the data is in chunk `n / chunkSize`.
package enum ChunkedEncryption {
    /// The name the manifest records.
    package static let algorithm = "aes-256-gcm-chunked"
    /// The suffix of encrypted objects' keys (after `.zst`).
    package static let objectSuffix = ".enc"
    package static let defaultChunkSize = 1 << 20
    static let magic = Array("DKAEAD01".utf8)
    static let headerSize = 64
    static let tagSize = 16
    static let chunkSizes = 4096...(64 << 20)

    /// The context bound into every chunk of one file of one snapshot.
    package static func context(snapshot: String, node: String, file: String) -> String {
        "dynokeeper/\(snapshot)/\(node)/\(file)"
    }

    /// The fingerprint of the key an encrypted object names in its header.
    /// - Throws: ``DynokeeperError`` when the object is not in this format.
    static func fingerprint(in object: ByteBuffer, what: String) throws -> String {
        guard let bytes = object.getBytes(at: object.readerIndex, length: 32), Array(bytes[0..<8]) == magic else {
            throw DynokeeperError.snapshot("\(what) is not an encrypted dynokeeper object (damaged or replaced)")
        }
        return Hex.string(bytes[16..<32])
    }

    static func header(chunkSize: Int, fingerprint: String, salt: [UInt8]) -> [UInt8] {
        var header = magic
        header += withUnsafeBytes(of: UInt32(chunkSize).bigEndian, Array.init)
        header += [0, 0, 0, 0]
        header += Hex.bytes(fingerprint)
        header += salt
        return header
    }

    static func dataKey(_ secret: SymmetricKey, salt: some DataProtocol) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(
            inputKeyMaterial: secret, salt: salt, info: Array("dynokeeper chunk key v1".utf8), outputByteCount: 32)
    }

    static func nonce(_ index: UInt64) throws -> AES.GCM.Nonce {
        try AES.GCM.Nonce(data: [0, 0, 0, 0] + withUnsafeBytes(of: index.bigEndian, Array.init))
    }

    static func associatedData(header: [UInt8], context: [UInt8], index: UInt64, final: Bool) -> [UInt8] {
        header + context + [0] + withUnsafeBytes(of: index.bigEndian, Array.init) + [final ? 1 : 0]
    }

}

/// Why an encrypted object could not be decrypted.
package struct DecryptionError: Error, CustomStringConvertible {
    package var description: String
}

/// Encrypts a stream into dynokeeper's encrypted object format (``ChunkedEncryption``).
package struct EncryptingSequence<Base: AsyncSequence & Sendable>: AsyncSequence, Sendable
where Base.Element == ByteBuffer {
    package typealias Element = ByteBuffer
    let base: Base
    let key: SnapshotKeyring.Key
    let context: String
    let chunkSize: Int

    package init(
        _ base: Base, key: SnapshotKeyring.Key, context: String, chunkSize: Int = ChunkedEncryption.defaultChunkSize
    ) {
        self.base = base
        self.key = key
        self.context = context
        self.chunkSize = chunkSize
    }

    package struct AsyncIterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        let chunkSize: Int
        let header: [UInt8]
        let context: [UInt8]
        let dataKey: SymmetricKey
        var pending = ByteBuffer()
        var index: UInt64 = 0
        var started = false
        var finished = false

        package mutating func next() async throws -> ByteBuffer? {
            guard !finished else { return nil }
            var output = ByteBuffer()
            if !started {
                started = true
                output.writeBytes(header)
            }
            while pending.readableBytes < chunkSize {
                guard var chunk = try await base.next() else {
                    finished = true
                    try seal(pending.readableBytes, final: true, into: &output)
                    return output
                }
                if pending.readerIndex > 0 { pending.discardReadBytes() }
                pending.writeBuffer(&chunk)
            }
            try seal(chunkSize, final: false, into: &output)
            return output
        }

        private mutating func seal(_ length: Int, final: Bool, into output: inout ByteBuffer) throws {
            let plaintext = pending.readSlice(length: length)!
            let aad = ChunkedEncryption.associatedData(header: header, context: context, index: index, final: final)
            let nonce = try ChunkedEncryption.nonce(index)
            let box = try plaintext.withUnsafeReadableBytes {
                try AES.GCM.seal($0, using: dataKey, nonce: nonce, authenticating: aad)
            }
            output.reserveCapacity(output.readableBytes + length + ChunkedEncryption.tagSize)
            output.writeBytes(box.ciphertext)
            output.writeBytes(box.tag)
            index += 1
        }
    }

    package func makeAsyncIterator() -> AsyncIterator {
        var salt = [UInt8](repeating: 0, count: 32)
        var generator = SystemRandomNumberGenerator()
        for i in salt.indices { salt[i] = generator.next() }
        let header = ChunkedEncryption.header(chunkSize: chunkSize, fingerprint: key.fingerprint, salt: salt)
        return AsyncIterator(
            base: base.makeAsyncIterator(), chunkSize: chunkSize, header: header, context: Array(context.utf8),
            dataKey: ChunkedEncryption.dataKey(key.secret, salt: salt))
    }
}

/// Decrypts dynokeeper's encrypted object format (``ChunkedEncryption``), failing on the first chunk that does not
/// authenticate; nothing of a chunk is handed on before its tag was checked.
package struct DecryptingSequence<Base: AsyncSequence & Sendable>: AsyncSequence, Sendable
where Base.Element == ByteBuffer {
    package typealias Element = ByteBuffer
    let base: Base
    let key: SnapshotKeyring.Key
    let context: String

    package init(_ base: Base, key: SnapshotKeyring.Key, context: String) {
        self.base = base
        self.key = key
        self.context = context
    }

    package struct AsyncIterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        let key: SnapshotKeyring.Key
        let context: [UInt8]
        var buffer = ByteBuffer()
        var header: [UInt8]?
        var chunkSize = 0
        var dataKey: SymmetricKey?
        var index: UInt64 = 0
        var finished = false

        package mutating func next() async throws -> ByteBuffer? {
            while !finished {
                if header == nil, buffer.readableBytes >= ChunkedEncryption.headerSize {
                    try readHeader()
                }
                // A full chunk followed by more bytes is not the last one.
                if header != nil, buffer.readableBytes > chunkSize + ChunkedEncryption.tagSize {
                    return try open(chunkSize + ChunkedEncryption.tagSize, final: false)
                }
                guard var chunk = try await base.next() else {
                    finished = true
                    guard header != nil else {
                        throw DecryptionError(description: "ends within its encryption header: it is truncated")
                    }
                    guard buffer.readableBytes >= ChunkedEncryption.tagSize else {
                        throw DecryptionError(description: "is truncated: its last encrypted chunk is cut off")
                    }
                    let last = try open(buffer.readableBytes, final: true)
                    return last.readableBytes > 0 ? last : nil
                }
                if buffer.readerIndex > 0 { buffer.discardReadBytes() }
                buffer.writeBuffer(&chunk)
            }
            return nil
        }

        private mutating func readHeader() throws {
            let bytes = buffer.readBytes(length: ChunkedEncryption.headerSize)!
            guard Array(bytes[0..<8]) == ChunkedEncryption.magic else {
                throw DecryptionError(description: "is not encrypted by dynokeeper, or its header is damaged")
            }
            let size = bytes[8..<12].reduce(0) { $0 << 8 | Int($1) }
            guard ChunkedEncryption.chunkSizes.contains(size) else {
                throw DecryptionError(description: "has a damaged encryption header (chunk size \(size))")
            }
            let fingerprint = Hex.string(bytes[16..<32])
            guard fingerprint == key.fingerprint else {
                throw DecryptionError(
                    description:
                        "is encrypted with the key of fingerprint \(fingerprint), not \(key.fingerprint) as its manifest says: it was replaced or damaged"
                )
            }
            chunkSize = size
            header = bytes
            dataKey = ChunkedEncryption.dataKey(key.secret, salt: bytes[32..<64])
        }

        private mutating func open(_ length: Int, final: Bool) throws -> ByteBuffer {
            let frame = buffer.readSlice(length: length)!
            let aad = ChunkedEncryption.associatedData(header: header!, context: context, index: index, final: final)
            let plaintext: Data
            do {
                let box = try frame.withUnsafeReadableBytes { bytes in
                    try AES.GCM.SealedBox(
                        nonce: ChunkedEncryption.nonce(index),
                        ciphertext: UnsafeRawBufferPointer(rebasing: bytes.dropLast(ChunkedEncryption.tagSize)),
                        tag: UnsafeRawBufferPointer(rebasing: bytes.suffix(ChunkedEncryption.tagSize)))
                }
                plaintext = try AES.GCM.open(box, using: dataKey!, authenticating: aad)
            } catch {
                throw DecryptionError(
                    description:
                        "does not decrypt at chunk \(index)\(final ? " (the last)" : ""): it was damaged, truncated, reordered or taken from another snapshot or file"
                )
            }
            index += 1
            return ByteBuffer(bytes: plaintext)
        }
    }

    package func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: base.makeAsyncIterator(), key: key, context: Array(context.utf8))
    }
}
