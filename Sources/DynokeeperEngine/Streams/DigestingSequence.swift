import Crypto
import Foundation
package import NIOCore
import Synchronization

/// Passes bytes through while computing their SHA-256 and counting them; the result is in ``digest``
/// once the stream has ended.
package struct DigestingSequence<Base: AsyncSequence & Sendable>: AsyncSequence, Sendable
where Base.Element == ByteBuffer {
    package typealias Element = ByteBuffer
    let base: Base
    package let digest: DigestResult

    package init(_ base: Base) {
        self.base = base
        self.digest = DigestResult()
    }

    package struct AsyncIterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        var hasher = SHA256()
        var count: Int64 = 0
        let result: DigestResult

        package mutating func next() async throws -> ByteBuffer? {
            guard let chunk = try await base.next() else {
                result.set(hex: Hex.string(hasher.finalize()), count: count)
                return nil
            }
            chunk.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
            count += Int64(chunk.readableBytes)
            return chunk
        }
    }

    package func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: base.makeAsyncIterator(), result: digest) }
}

/// The SHA-256 and size of a stream that has ended.
package final class DigestResult: Sendable {
    private let value = Mutex<(hex: String, count: Int64)?>(nil)

    func set(hex: String, count: Int64) { value.withLock { $0 = (hex, count) } }

    /// `nil` until the stream has ended.
    package var result: (hex: String, count: Int64)? { value.withLock { $0 } }
}
