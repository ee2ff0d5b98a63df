import Crypto
import Foundation
package import NIOCore

/// Streams of random bytes of a given size (read from `/dev/urandom`, which is fast even in debug builds),
/// with the SHA-256 of what was produced, to check round trips without holding the data in memory.
package struct RandomBytes: AsyncSequence, Sendable {
    package typealias Element = ByteBuffer
    package let total: Int64
    package let chunkSize: Int
    /// Filled with the digest of everything produced once the stream has ended.
    package let digest: DigestBox
    /// When set, the stream throws this error once it has produced that many bytes.
    package let failAfter: Int64?

    /// - Parameters:
    ///   - total: The number of bytes.
    ///   - chunkSize: The size of each buffer.
    ///   - failAfter: Makes the stream fail after that many bytes, to test aborted uploads.
    package init(total: Int64, chunkSize: Int = 256 << 10, failAfter: Int64? = nil) {
        self.total = total
        self.chunkSize = chunkSize
        self.failAfter = failAfter
        self.digest = DigestBox()
    }

    package struct AsyncIterator: AsyncIteratorProtocol {
        let parent: RandomBytes
        var produced: Int64 = 0
        var hasher = SHA256()
        let source = FileHandle(forReadingAtPath: "/dev/urandom")!

        package mutating func next() async throws -> ByteBuffer? {
            if let failAfter = parent.failAfter, produced >= failAfter {
                throw TestSupportError("the test's stream failed on purpose after \(produced) bytes")
            }
            guard produced < parent.total else {
                parent.digest.set(hasher.finalize())
                return nil
            }
            let count = Int(Swift.min(Int64(parent.chunkSize), parent.total - produced))
            let data = try source.read(upToCount: count) ?? Data()
            hasher.update(data: data)
            produced += Int64(data.count)
            return ByteBuffer(bytes: data)
        }
    }

    package func makeAsyncIterator() -> AsyncIterator { AsyncIterator(parent: self) }
}

/// A thread-safe slot for a digest computed by a stream.
package final class DigestBox: @unchecked Sendable {
    private let lock = NSLock()
    private var value: SHA256.Digest?

    func set(_ digest: SHA256.Digest) { lock.withLock { value = digest } }

    /// The hex digest, once the stream has ended.
    package var hex: String? { lock.withLock { value.map { $0.map { String(format: "%02x", $0) }.joined() } } }
}

extension AsyncSequence where Element == ByteBuffer {
    /// The size and hex SHA-256 of everything in the sequence.
    package func sizeAndSHA256() async throws -> (size: Int64, sha256: String) {
        var hasher = SHA256()
        var size: Int64 = 0
        for try await chunk in self {
            chunk.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
            size += Int64(chunk.readableBytes)
        }
        return (size, hasher.finalize().map { String(format: "%02x", $0) }.joined())
    }
}
