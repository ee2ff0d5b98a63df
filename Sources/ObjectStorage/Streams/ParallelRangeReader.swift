package import NIOCore

/// Reads a range of bytes as consecutive parts fetched concurrently, and yields them in order.
///
/// At most `concurrency` parts are in flight or waiting to be consumed, so memory stays below
/// `concurrency × partSize` whatever the size of the object. When the consumer stops early or is
/// cancelled, the parts in flight are cancelled.
package struct ParallelRangeReader: AsyncSequence, Sendable {
    package typealias Element = ByteBuffer

    let range: Range<Int64>
    let partSize: Int64
    let concurrency: Int
    let fetch: @Sendable (Range<Int64>) async throws -> ByteBuffer

    /// - Parameters:
    ///   - range: The bytes to read.
    ///   - partSize: The size of each part but the last.
    ///   - concurrency: How many parts are fetched at once.
    ///   - fetch: Fetches one part whole (and retries it as it sees fit); it must return exactly the
    ///     bytes of the range it is given.
    package init(
        range: Range<Int64>, partSize: Int64, concurrency: Int,
        fetch: @escaping @Sendable (Range<Int64>) async throws -> ByteBuffer
    ) {
        precondition(partSize > 0 && concurrency > 0)
        self.range = range
        self.partSize = partSize
        self.concurrency = concurrency
        self.fetch = fetch
    }

    package func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(window: Window(reader: self))
    }

    package struct AsyncIterator: AsyncIteratorProtocol {
        let window: Window

        package mutating func next() async throws -> ByteBuffer? {
            try await window.next()
        }
    }

    /// The parts in flight; cancels them when the iterator goes away.
    final class Window {
        let reader: ParallelRangeReader
        var nextOffset: Int64
        var inFlight: [(range: Range<Int64>, task: Task<ByteBuffer, any Error>)] = []

        init(reader: ParallelRangeReader) {
            self.reader = reader
            self.nextOffset = reader.range.lowerBound
        }

        deinit {
            for part in inFlight { part.task.cancel() }
        }

        func fill() {
            while inFlight.count < reader.concurrency && nextOffset < reader.range.upperBound {
                let part = nextOffset..<Swift.min(nextOffset + reader.partSize, reader.range.upperBound)
                nextOffset = part.upperBound
                let fetch = reader.fetch
                inFlight.append((part, Task { try await fetch(part) }))
            }
        }

        func next() async throws -> ByteBuffer? {
            fill()
            guard !inFlight.isEmpty else { return nil }
            let (part, task) = inFlight.removeFirst()
            do {
                let buffer = try await withTaskCancellationHandler {
                    try await task.value
                } onCancel: {
                    task.cancel()
                }
                guard buffer.readableBytes == part.count else {
                    throw ObjectStoreError(
                        .integrity,
                        "expected \(part.count) bytes for range \(part.lowerBound)-\(part.upperBound - 1), got \(buffer.readableBytes)"
                    )
                }
                fill()  // keep the window full while the caller works on this part
                return buffer
            } catch {
                for other in inFlight { other.task.cancel() }
                inFlight.removeAll()
                nextOffset = reader.range.upperBound
                throw error
            }
        }
    }
}
