import DynokeeperTestSupport
import Foundation
import NIOCore
import Testing
import Zstd

@Suite struct ZstdTests {
    static func sample(_ size: Int) -> ByteBuffer {
        // Compressible but not trivial: words with random numbers.
        var buffer = ByteBuffer()
        var generator = SystemRandomNumberGenerator()
        while buffer.readableBytes < size {
            buffer.writeString("key:\(generator.next() % 100_000) value:\(generator.next() % 1000) ")
        }
        return buffer.getSlice(at: 0, length: size)!
    }

    static func chunks(_ buffer: ByteBuffer, size: Int) -> [ByteBuffer] {
        stride(from: 0, to: buffer.readableBytes, by: size).map {
            buffer.getSlice(at: $0, length: min(size, buffer.readableBytes - $0))!
        }
    }

    static func compress(_ input: ByteBuffer, level: Int32 = 3) async throws -> ByteBuffer {
        var out = ByteBuffer()
        for try await var chunk in ZstdCompressingSequence(chunks(input, size: 64 << 10).async, level: level) {
            out.writeBuffer(&chunk)
        }
        return out
    }

    static func decompress(_ input: ByteBuffer, chunk: Int = 10_000, limit: Int = .max) async throws -> ByteBuffer {
        var out = ByteBuffer()
        for try await var piece in ZstdDecompressingSequence(chunks(input, size: chunk).async, limit: limit) {
            out.writeBuffer(&piece)
        }
        return out
    }

    @Test(arguments: [0, 1, 100_000, 3 << 20])
    func roundTrip(size: Int) async throws {
        let input = Self.sample(size)
        let compressed = try await Self.compress(input)
        #expect(compressed.readableBytes > 0)
        if size > 1000 { #expect(compressed.readableBytes < input.readableBytes / 2) }
        #expect(try await Self.decompress(compressed) == input)
        #expect(try await Self.decompress(compressed, chunk: 7) == input)
    }

    /// Every piece of output is the same size (the last one smaller) whatever the input chunks hold: an 8 MiB range
    /// of repetitive data expands to far more than a piece, and 7-byte chunks to far less.
    @Test(arguments: [7, 8 << 20])
    func piecesAreTheSameSizeWhateverTheInputChunks(chunk: Int) async throws {
        var input = ByteBuffer()
        for index in 0..<(1 << 20) { input.writeString(index % 4096 == 0 ? "\(index)" : "abcdefghijklmnopqrstuvwxyz") }
        let compressed = try await Self.compress(input)
        #expect(compressed.readableBytes < input.readableBytes / 50)
        var sizes: [Int] = []
        var out = ByteBuffer()
        for try await var piece in ZstdDecompressingSequence(Self.chunks(compressed, size: chunk).async) {
            sizes.append(piece.readableBytes)
            out.writeBuffer(&piece)
        }
        #expect(out == input)
        let pieceSize = ZstdDecompressingSequence<AsyncStream<ByteBuffer>>.pieceSize
        #expect(sizes.dropLast().allSatisfy { $0 == pieceSize })
        #expect(sizes.last! > 0 && sizes.last! <= pieceSize)
        #expect(sizes.count == (input.readableBytes + pieceSize - 1) / pieceSize)
    }

    /// A frame that ends exactly where a piece (or the room of a buffer) ends is whole, not truncated.
    @Test func dataThatEndsExactlyAtAPieceBoundaryIsWhole() async throws {
        let pieceSize = ZstdDecompressingSequence<AsyncStream<ByteBuffer>>.pieceSize
        for size in [2 * pieceSize, pieceSize, 131_072] {
            let input = Self.sample(size)
            let compressed = try await Self.compress(input)
            #expect(try await Self.decompress(compressed, chunk: 8 << 20) == input, "\(size)")
            #expect(try await Self.decompress(compressed, chunk: 7777) == input, "\(size)")
            // Through the one-call interface, into a buffer whose room ends where the data does.
            let decompressor = try ZstdDecompressor()
            var output = ByteBuffer()
            output.reserveCapacity(size)
            try decompressor.decompress(compressed, into: &output)
            try decompressor.finish()
            #expect(output == input, "\(size)")
        }
    }

    @Test func theZstdCommandReadsOurOutputAndWeReadItsOutput() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let input = Self.sample(2 << 20)
        let compressed = try await Self.compress(input, level: 1)
        try Data(compressed.readableBytesView).write(to: URL(fileURLWithPath: folder.file("ours.zst")))
        try await ProcessRunner.check("zstd", ["-q", "-d", folder.file("ours.zst"), "-o", folder.file("ours")])
        #expect(try Data(contentsOf: URL(fileURLWithPath: folder.file("ours"))) == Data(input.readableBytesView))

        try Data(input.readableBytesView).write(to: URL(fileURLWithPath: folder.file("plain")))
        try await ProcessRunner.check("zstd", ["-q", "-19", folder.file("plain"), "-o", folder.file("theirs.zst")])
        let theirs = ByteBuffer(bytes: try Data(contentsOf: URL(fileURLWithPath: folder.file("theirs.zst"))))
        #expect(try await Self.decompress(theirs) == input)
    }

    @Test func aFlippedByteIsDetected() async throws {
        let input = Self.sample(500_000)
        var compressed = try await Self.compress(input)
        for offset in [compressed.readableBytes / 2, compressed.readableBytes - 2] {
            var damaged = compressed
            let byte = damaged.getInteger(at: offset, as: UInt8.self)!
            damaged.setInteger(byte ^ 0x40, at: offset)
            await #expect(throws: ZstdError.self, "byte \(offset)") { _ = try await Self.decompress(damaged) }
        }
        compressed.moveWriterIndex(to: compressed.writerIndex - 10)
        let truncated = await #expect(throws: ZstdError.self) { _ = try await Self.decompress(compressed) }
        #expect(truncated?.description.contains("truncated") == true)
    }

    @Test func notZstdAtAll() async throws {
        let error = await #expect(throws: ZstdError.self) {
            _ = try await Self.decompress(ByteBuffer(string: "REDIS0011 not zstd"))
        }
        #expect(error?.description.hasPrefix("zstd data is corrupt") == true)
        await #expect(throws: ZstdError.self) { _ = try await Self.decompress(ByteBuffer()) }
    }

    /// A compressor that cannot be made fails the stream with its own error; the stream used to end empty, which a
    /// backup reported as "the upload ended before the whole file was read".
    @Test func aCompressorThatCannotBeMadeFailsTheStream() async throws {
        let level = ZstdCompressor.levels.upperBound + 1
        let error = await #expect(throws: ZstdError.self) {
            _ = try await Self.compress(Self.sample(1000), level: level)
        }
        #expect(error?.description.contains("compression level \(level)") == true)
    }

    @Test func outputIsLimited() async throws {
        let compressed = try await Self.compress(ByteBuffer(repeating: 0, count: 10 << 20))
        let error = await #expect(throws: ZstdError.self) { _ = try await Self.decompress(compressed, limit: 1 << 20) }
        #expect(error?.description.contains("expands beyond") == true)
    }
}

extension Array where Element: Sendable {
    var async: AsyncStream<Element> {
        AsyncStream { continuation in
            for element in self { continuation.yield(element) }
            continuation.finish()
        }
    }
}
