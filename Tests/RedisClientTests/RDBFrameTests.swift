import NIOCore
import Testing

@testable import RedisClient

/// The framing of the RDB a replica receives, whatever pieces the bytes arrive in.
@Suite struct RDBFrameTests {
    static let marker = Array(String(repeating: "0123456789", count: 4).utf8)
    static let payload = (0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }

    /// Feeds `stream` to a frame in pieces of the given sizes (cycled); returns what was handed on and the summary.
    static func receive(_ stream: [UInt8], pieces: [Int]) async throws -> ([UInt8], RDBTransfer.Summary?) {
        var frame = RDBTransfer.Frame(replies: ["REPLCONF capa", "REPLCONF rdb-only"])
        var received: [UInt8] = []
        var offset = 0
        var index = 0
        while offset < stream.count {
            let size = min(pieces[index % pieces.count], stream.count - offset)
            var chunk = ByteBuffer(bytes: stream[offset..<offset + size])
            offset += size
            index += 1
            if let summary = try await frame.feed(&chunk, { received += Array($0.readableBytesView) }) {
                return (received, summary)
            }
        }
        return (received, nil)
    }

    @Test(arguments: [[1], [7], [39], [40], [41], [4096], [3, 100, 1, 45, 2000]])
    func aDisklessRDBComesThroughWholeWithoutItsMarker(pieces: [Int]) async throws {
        let stream =
            Array("+OK\r\n+OK\r\n\n\n$EOF:".utf8) + Self.marker + Array("\r\n".utf8) + Self.payload + Self.marker
        let (received, summary) = try await Self.receive(stream, pieces: pieces)
        #expect(received == Self.payload)
        #expect(summary == RDBTransfer.Summary(bytes: Int64(Self.payload.count), diskless: true))
    }

    @Test(arguments: [[1], [40], [4096]])
    func aCountedRDBComesThroughWhole(pieces: [Int]) async throws {
        let stream = Array("+OK\r\n+OK\r\n$\(Self.payload.count)\r\n".utf8) + Self.payload
        let (received, summary) = try await Self.receive(stream, pieces: pieces)
        #expect(received == Self.payload)
        #expect(summary == RDBTransfer.Summary(bytes: Int64(Self.payload.count), diskless: false))
    }
}
