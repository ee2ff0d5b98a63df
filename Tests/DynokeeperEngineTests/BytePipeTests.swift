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
}
