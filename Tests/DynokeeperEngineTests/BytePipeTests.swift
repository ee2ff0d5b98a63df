import DynokeeperEngine
import NIOCore
import Synchronization
import Testing

/// The bounded hand-over between a fast producer and a slower consumer.
@Suite struct BytePipeTests {
    final class Counter: Sendable { let value = Atomic<Int>(0) }

    static func chunk(_ index: Int, size: Int) -> ByteBuffer {
        ByteBuffer(bytes: [UInt8](repeating: UInt8(index % 251), count: size))
    }

    @Test func everyChunkArrivesInOrderAndTheEndFollows() async throws {
        let pipe = BytePipe(limit: 4096)
        async let produced: Void = {
            for index in 0..<200 { try await pipe.send(Self.chunk(index, size: 1000)) }
            pipe.finish()
        }()
        var received: [UInt8] = []
        var count = 0
        for try await chunk in pipe {
            #expect(chunk.readableBytes == 1000)
            received.append(chunk.readableBytesView.first!)
            count += 1
        }
        try await produced
        #expect(count == 200)
        #expect(received == (0..<200).map { UInt8($0 % 251) })
    }

    /// The producer waits once `limit` bytes wait for the consumer, and goes on as the consumer reads.
    @Test func theProducerWaitsWhileTheBufferIsFull() async throws {
        let pipe = BytePipe(limit: 1024)
        let sent = Counter()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for index in 0..<8 {
                    try await pipe.send(Self.chunk(index, size: 512))
                    sent.value.add(1, ordering: .relaxed)
                }
                pipe.finish()
            }
            // Nothing reads yet: the producer stops on the chunk that fills the buffer (the second).
            try await Task.sleep(for: .milliseconds(200))
            #expect(sent.value.load(ordering: .relaxed) <= 1)
            var iterator = pipe.makeAsyncIterator()
            var read = 0
            while try await iterator.next() != nil { read += 1 }
            #expect(read == 8)
            try await group.waitForAll()
        }
        #expect(sent.value.load(ordering: .relaxed) == 8)
    }

    @Test func aProducerErrorReachesTheConsumerAfterWhatWasSent() async throws {
        struct Broken: Error {}
        let pipe = BytePipe(limit: 1 << 20)
        try await pipe.send(Self.chunk(1, size: 10))
        pipe.finish(throwing: Broken())
        var iterator = pipe.makeAsyncIterator()
        #expect(try await iterator.next()?.readableBytes == 10)
        await #expect(throws: Broken.self) { _ = try await iterator.next() }
    }

    @Test func aConsumerThatStopsStopsTheProducer() async throws {
        let pipe = BytePipe(limit: 100)
        let producer = Task {
            for index in 0..<1000 { try await pipe.send(Self.chunk(index, size: 60)) }
        }
        var iterator = pipe.makeAsyncIterator()
        _ = try await iterator.next()
        pipe.close()
        await #expect(throws: BytePipeClosed.self) { try await producer.value }
    }

    /// A source that counts the chunks taken from it, endless unless told its length.
    struct CountingSource: AsyncSequence, Sendable {
        let taken: Counter
        var count = Int.max
        var failure: (any Error & Sendable)?
        var ignoresCancellation = false

        struct AsyncIterator: AsyncIteratorProtocol {
            let source: CountingSource
            var index = 0

            mutating func next() async throws -> ByteBuffer? {
                guard index < source.count else {
                    if let failure = source.failure { throw failure }
                    return nil
                }
                if !source.ignoresCancellation { try Task.checkCancellation() }
                defer { index += 1 }
                source.taken.value.add(1, ordering: .relaxed)
                return BytePipeTests.chunk(index, size: 1000)
            }
        }

        func makeAsyncIterator() -> AsyncIterator { AsyncIterator(source: self) }
    }

    /// The source is read while the consumer is still busy with what came before: up to the limit ahead.
    @Test func readingAheadGetsAheadOfASlowConsumer() async throws {
        let taken = Counter()
        let result = try await BytePipe.readingAhead(CountingSource(taken: taken, count: 50), limit: 10_000) {
            chunks in
            try await Task.sleep(for: .milliseconds(300))
            // Nothing consumed yet, and the source already read past the first chunk, up to the limit.
            let ahead = taken.value.load(ordering: .relaxed)
            #expect(ahead >= 10 && ahead <= 12)
            var firsts: [UInt8] = []
            for try await chunk in chunks { firsts.append(chunk.readableBytesView.first!) }
            return firsts
        }
        #expect(result == (0..<50).map { UInt8($0 % 251) })
        #expect(taken.value.load(ordering: .relaxed) == 50)
    }

    @Test func readingAheadHandsOnTheSourcesErrorAfterItsChunks() async throws {
        struct Damaged: Error {}
        let received = Counter()
        await #expect(throws: Damaged.self) {
            try await BytePipe.readingAhead(
                CountingSource(taken: Counter(), count: 5, failure: Damaged()), limit: 1 << 20
            ) { chunks in
                for try await _ in chunks { received.value.add(1, ordering: .relaxed) }
            }
        }
        #expect(received.value.load(ordering: .relaxed) == 5)
    }

    /// A consumer that fails stops the reading (an endless source here) and its error is the one thrown.
    @Test func readingAheadStopsWhenTheConsumerFails() async throws {
        struct RedisWentAway: Error {}
        let taken = Counter()
        await #expect(throws: RedisWentAway.self) {
            try await BytePipe.readingAhead(CountingSource(taken: taken), limit: 4096) { chunks in
                var iterator = chunks.makeAsyncIterator()
                _ = try await iterator.next()
                throw RedisWentAway()
            }
        }
        let stopped = taken.value.load(ordering: .relaxed)
        try await Task.sleep(for: .milliseconds(100))
        #expect(taken.value.load(ordering: .relaxed) == stopped)
        #expect(stopped < 10)
    }

    /// A consumer that returns before the end (without throwing) does not leave the call waiting for a reader that
    /// waits for room, even when the source ignores cancellation.
    @Test func readingAheadEndsWhenTheConsumerReturnsEarly() async throws {
        let taken = Counter()
        let first = try await BytePipe.readingAhead(
            CountingSource(taken: taken, ignoresCancellation: true), limit: 4096
        ) { chunks in
            var iterator = chunks.makeAsyncIterator()
            return try await iterator.next()?.readableBytes
        }
        #expect(first == 1000)
        #expect(taken.value.load(ordering: .relaxed) < 10)
    }

    /// What the consumer has taken is let go at once, even while the producer keeps the pipe from emptying (an
    /// online restore's download stays ahead of Redis all the way).
    @Test func takenChunksAreReleasedWhileTheProducerStaysAhead() async throws {
        let pipe = BytePipe(limit: 1 << 20)
        var first = Self.chunk(0, size: 1000)
        let address = first.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        try await pipe.send(first)
        for index in 1...100 { try await pipe.send(Self.chunk(index, size: 1000)) }
        var iterator = pipe.makeAsyncIterator()
        for _ in 0..<3 { _ = try await iterator.next() }
        // Chunks are left in the pipe; were the first one still held there, writing to it would copy it.
        first.setInteger(UInt8(7), at: first.readerIndex)
        #expect(first.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) } == address)
        pipe.finish()
    }
}
