import Foundation
import NIOCore
import ObjectStorage
import Testing

@Suite struct ParallelRangeReaderTests {
    /// Records how many fetches run at once.
    final class Gauge: @unchecked Sendable {
        let lock = NSLock()
        var current = 0
        var peak = 0
        var fetched: [Range<Int64>] = []

        func enter(_ range: Range<Int64>) {
            lock.withLock {
                current += 1
                peak = max(peak, current)
                fetched.append(range)
            }
        }
        func leave() { lock.withLock { current -= 1 } }
    }

    static func source(_ range: Range<Int64>) -> ByteBuffer {
        var buffer = ByteBuffer()
        for offset in range { buffer.writeInteger(UInt8(truncatingIfNeeded: offset % 251)) }
        return buffer
    }

    @Test func yieldsPartsInOrderWithBoundedConcurrency() async throws {
        let gauge = Gauge()
        let reader = ParallelRangeReader(range: 5..<1005, partSize: 64, concurrency: 3) { range in
            gauge.enter(range)
            defer { gauge.leave() }
            // Later parts finish first, to prove the reader reorders.
            try await Task.sleep(for: .milliseconds(Int(10 - (range.lowerBound / 64) % 10)))
            return Self.source(range)
        }
        var collected = ByteBuffer()
        for try await var part in reader { collected.writeBuffer(&part) }
        #expect(collected == Self.source(5..<1005))
        #expect(gauge.peak <= 3)
        #expect(gauge.peak >= 2)
        #expect(gauge.fetched.count == 16)
    }

    @Test func failsWhenAPartHasTheWrongLength() async throws {
        let reader = ParallelRangeReader(range: 0..<100, partSize: 40, concurrency: 2) { range in
            Self.source(range.lowerBound..<(range.upperBound - 1))
        }
        let error = await #expect(throws: ObjectStoreError.self) {
            for try await _ in reader {}
        }
        #expect(error?.code == .integrity)
    }

    @Test func propagatesAFetchErrorAndStops() async throws {
        let gauge = Gauge()
        let reader = ParallelRangeReader(range: 0..<1000, partSize: 10, concurrency: 2) { range in
            gauge.enter(range)
            defer { gauge.leave() }
            if range.lowerBound == 30 { throw ObjectStoreError(.unavailable, "boom") }
            return Self.source(range)
        }
        var parts = 0
        let error = await #expect(throws: ObjectStoreError.self) {
            for try await _ in reader { parts += 1 }
        }
        #expect(error?.message == "boom")
        #expect(parts == 3)
        #expect(gauge.fetched.count < 10)
    }
}
