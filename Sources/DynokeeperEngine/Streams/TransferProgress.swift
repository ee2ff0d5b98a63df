package import NIOCore
import Synchronization

/// Receives how far a transfer has got, for a progress display.
package protocol ProgressReporter: Sendable {
    /// - Parameters:
    ///   - label: What moves, such as `dump.rdb`.
    ///   - done: Bytes so far.
    ///   - total: Bytes in all.
    func progress(label: String, done: Int64, total: Int64)
    /// The transfer of `label` is over.
    func finished(label: String)
    /// A backup or restore moves on to a step, such as `upload dump.rdb` or `start Redis`.
    func step(_ name: String)
}

extension ProgressReporter {
    package func step(_ name: String) {}
}

/// Passes bytes through, reporting their running count.
package struct ProgressSequence<Base: AsyncSequence & Sendable>: AsyncSequence, Sendable
where Base.Element == ByteBuffer {
    package typealias Element = ByteBuffer
    let base: Base
    let label: String
    let total: Int64
    let reporter: (any ProgressReporter)?

    package init(_ base: Base, label: String, total: Int64, reporter: (any ProgressReporter)?) {
        self.base = base
        self.label = label
        self.total = total
        self.reporter = reporter
    }

    package struct AsyncIterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        let label: String
        let total: Int64
        let reporter: (any ProgressReporter)?
        var done: Int64 = 0

        package mutating func next() async throws -> ByteBuffer? {
            guard let chunk = try await base.next() else {
                reporter?.finished(label: label)
                return nil
            }
            done += Int64(chunk.readableBytes)
            reporter?.progress(label: label, done: done, total: total)
            return chunk
        }
    }

    package func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: base.makeAsyncIterator(), label: label, total: total, reporter: reporter)
    }
}
