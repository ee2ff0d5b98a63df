package import NIOCore
import Synchronization

/// A bounded hand-over of byte chunks from one producer task to one consumer: the producer waits while `limit`
/// bytes are buffered, so that a stream read faster than it is written (Redis's replication link into an upload,
/// a download into a loading Redis) holds a bounded amount of memory.
///
/// Single-pass: one consumer iterates it once. The producer ends it with ``finish(throwing:)``; a consumer that
/// stops early makes every later ``send(_:)`` fail, so that the producer stops too.
package final class BytePipe: AsyncSequence, Sendable {
    package typealias Element = ByteBuffer

    private struct State {
        var chunks: [ByteBuffer] = []
        var head = 0
        var buffered = 0
        var end: Result<Void, any Error>?
        var consumerGone = false
        var producer: CheckedContinuation<Void, any Error>?
        var consumer: CheckedContinuation<ByteBuffer?, any Error>?
    }

    private let limit: Int
    private let state = Mutex(State())

    /// - Parameter limit: Bytes buffered before the producer waits (a single larger chunk still passes).
    package init(limit: Int) {
        self.limit = limit
    }

    /// Hands a chunk over, waiting while the buffer is full.
    /// - Throws: ``BytePipeClosed`` when the consumer has stopped; `CancellationError` when the producer is cancelled.
    package func send(_ chunk: ByteBuffer) async throws {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let resume: (() -> Void)? = state.withLock { state in
                    if state.consumerGone { return { continuation.resume(throwing: BytePipeClosed()) } }
                    if Task.isCancelled { return { continuation.resume(throwing: CancellationError()) } }
                    if let consumer = state.consumer {
                        state.consumer = nil
                        return {
                            consumer.resume(returning: chunk)
                            continuation.resume()
                        }
                    }
                    state.chunks.append(chunk)
                    state.buffered += chunk.readableBytes
                    if state.buffered < limit { return { continuation.resume() } }
                    state.producer = continuation
                    return nil
                }
                resume?()
            }
        } onCancel: {
            let waiting = state.withLock { state -> CheckedContinuation<Void, any Error>? in
                defer { state.producer = nil }
                return state.producer
            }
            waiting?.resume(throwing: CancellationError())
        }
    }

    /// Ends the stream: the consumer gets what is buffered, then the end (or `error`).
    package func finish(throwing error: (any Error)? = nil) {
        let consumer = state.withLock { state -> CheckedContinuation<ByteBuffer?, any Error>? in
            guard state.end == nil else { return nil }
            state.end = error.map { .failure($0) } ?? .success(())
            defer { state.consumer = nil }
            return state.consumer
        }
        guard let consumer else { return }
        if let error { consumer.resume(throwing: error) } else { consumer.resume(returning: nil) }
    }

    /// The consumer stops: a waiting or later ``send(_:)`` fails with ``BytePipeClosed``.
    package func close() {
        let producer = state.withLock { state -> CheckedContinuation<Void, any Error>? in
            state.consumerGone = true
            state.chunks = []
            state.buffered = 0
            defer { state.producer = nil }
            return state.producer
        }
        producer?.resume(throwing: BytePipeClosed())
    }

    private func next() async throws -> ByteBuffer? {
        try await withTaskCancellationHandler {
            try await take()
        } onCancel: {
            let waiting = state.withLock { state -> CheckedContinuation<ByteBuffer?, any Error>? in
                defer { state.consumer = nil }
                return state.consumer
            }
            waiting?.resume(throwing: CancellationError())
        }
    }

    private func take() async throws -> ByteBuffer? {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<ByteBuffer?, any Error>) in
            let resume: () -> Void = state.withLock { state in
                if state.head < state.chunks.count {
                    let chunk = state.chunks[state.head]
                    // Released at once: a producer that stays ahead never lets the array empty, and every chunk
                    // it ever sent would stay in memory (an online restore's peak RSS grew to the RDB's size).
                    state.chunks[state.head] = ByteBuffer()
                    state.head += 1
                    state.buffered -= chunk.readableBytes
                    if state.head == state.chunks.count {
                        state.chunks.removeAll(keepingCapacity: true)
                        state.head = 0
                    } else if state.head >= 64 && state.head * 2 >= state.chunks.count {
                        state.chunks.removeFirst(state.head)
                        state.head = 0
                    }
                    var producer: CheckedContinuation<Void, any Error>?
                    if state.buffered < limit {
                        producer = state.producer
                        state.producer = nil
                    }
                    return {
                        producer?.resume()
                        continuation.resume(returning: chunk)
                    }
                }
                switch state.end {
                case .success?: return { continuation.resume(returning: nil) }
                case .failure(let error)?: return { continuation.resume(throwing: error) }
                case nil:
                    if Task.isCancelled { return { continuation.resume(throwing: CancellationError()) } }
                    state.consumer = continuation
                    return {}
                }
            }
            resume()
        }
    }

    package func makeAsyncIterator() -> Iterator { Iterator(pipe: self) }

    package struct Iterator: AsyncIteratorProtocol {
        let pipe: BytePipe

        package mutating func next() async throws -> ByteBuffer? { try await pipe.next() }
    }
}

extension BytePipe {
    /// Reads `source` in a task of its own, up to `limit` bytes ahead of `consume`, so that producing the next
    /// chunk (downloading, decrypting, decompressing, hashing) overlaps with `consume` handling the last one rather
    /// than taking turns with it. The reading task never outlives the call: a `consume` that throws stops it.
    /// - Returns: What `consume` returns, once `source` has been read to its end.
    /// - Throws: The error `source` failed with (which `consume` also sees after the chunks before it), or the one
    ///   `consume` threw.
    package static func readingAhead<Source: AsyncSequence & Sendable, Result: Sendable>(
        _ source: Source, limit: Int, consume: (BytePipe) async throws -> Result
    ) async throws -> Result where Source.Element == ByteBuffer {
        let pipe = BytePipe(limit: limit)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    for try await chunk in source where chunk.readableBytes > 0 { try await pipe.send(chunk) }
                    pipe.finish()
                } catch {
                    pipe.finish(throwing: error)
                }
            }
            do {
                let result = try await consume(pipe)
                // A consumer that stopped before the end stops the reader too (else it could wait for room forever).
                pipe.close()
                try await group.waitForAll()
                return result
            } catch {
                pipe.close()
                group.cancelAll()
                throw error
            }
        }
    }
}

/// The consumer of a ``BytePipe`` stopped before its end.
package struct BytePipeClosed: Error, Sendable, CustomStringConvertible {
    package var description: String { "the reading side stopped" }
}
