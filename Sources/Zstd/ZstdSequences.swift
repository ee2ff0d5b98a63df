package import NIOCore

/// Compresses a stream of buffers on the fly.
package struct ZstdCompressingSequence<Base: AsyncSequence & Sendable>: AsyncSequence, Sendable
where Base.Element == ByteBuffer {
    package typealias Element = ByteBuffer
    let base: Base
    let level: Int32
    let workers: Int32
    /// Output is handed on in buffers of at least this size (the last may be smaller).
    let minimumOutput: Int

    package init(_ base: Base, level: Int32, workers: Int32 = 0, minimumOutput: Int = 1 << 20) {
        self.base = base
        self.level = level
        self.workers = workers
        self.minimumOutput = minimumOutput
    }

    package struct AsyncIterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        /// The compressor, or why it could not be made: `makeAsyncIterator()` cannot throw, the first `next()` does.
        let compressor: Result<ZstdCompressor, ZstdError>
        let minimumOutput: Int
        var finished = false

        package mutating func next() async throws -> ByteBuffer? {
            guard !finished else { return nil }
            let compressor: ZstdCompressor
            do {
                compressor = try self.compressor.get()
            } catch {
                finished = true
                throw error
            }
            var output = ByteBuffer()
            while output.readableBytes < minimumOutput {
                guard let chunk = try await base.next() else {
                    try compressor.finish(into: &output)
                    finished = true
                    return output
                }
                try compressor.compress(chunk, into: &output)
            }
            return output
        }
    }

    package func makeAsyncIterator() -> AsyncIterator {
        let compressor = Result { () throws(ZstdError) in try ZstdCompressor(level: level, workers: workers) }
        return AsyncIterator(base: base.makeAsyncIterator(), compressor: compressor, minimumOutput: minimumOutput)
    }
}

/// Decompresses a stream of buffers on the fly, failing on corrupt or truncated data.
package struct ZstdDecompressingSequence<Base: AsyncSequence & Sendable>: AsyncSequence, Sendable
where Base.Element == ByteBuffer {
    package typealias Element = ByteBuffer
    let base: Base
    let limit: Int

    /// The size of each piece of output (the last one may be smaller): a power of two (NIO rounds a buffer's
    /// capacity up to one) under glibc's 1 MiB threshold for serving memory with mmap (see dynokeeper_tune_malloc),
    /// so that freed pieces are reused rather than each one costing fresh, zeroed pages (measured on 1 GiB: with
    /// pieces as large as a whole 8 MiB range's output, zeroing pages took 17 % of an online restore's CPU
    /// samples).
    package static var pieceSize: Int { 512 << 10 }

    /// - Parameters:
    ///   - base: The compressed bytes.
    ///   - limit: The most bytes the output may have in all.
    package init(_ base: Base, limit: Int = .max) {
        self.base = base
        self.limit = limit
    }

    package struct AsyncIterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        /// The decompressor, or why it could not be made (thrown by the first `next()`).
        let decompressor: Result<ZstdDecompressor, ZstdError>
        /// Compressed bytes not decompressed yet.
        var input = ByteBuffer()
        var finished = false

        package mutating func next() async throws -> ByteBuffer? {
            guard !finished else { return nil }
            let decompressor: ZstdDecompressor
            do {
                decompressor = try self.decompressor.get()
            } catch {
                finished = true
                throw error
            }
            var output = ByteBufferAllocator().buffer(capacity: ZstdDecompressingSequence.pieceSize)
            while output.readableBytes < ZstdDecompressingSequence.pieceSize {
                if input.readableBytes == 0 && !decompressor.mayHaveMoreOutput {
                    guard let chunk = try await base.next() else {
                        finished = true
                        try decompressor.finish()
                        return output.readableBytes > 0 ? output : nil
                    }
                    input = chunk
                }
                try decompressor.decompress(&input, into: &output, upTo: ZstdDecompressingSequence.pieceSize)
            }
            return output
        }
    }

    package func makeAsyncIterator() -> AsyncIterator {
        let decompressor = Result { () throws(ZstdError) in try ZstdDecompressor(limit: limit) }
        return AsyncIterator(base: base.makeAsyncIterator(), decompressor: decompressor)
    }
}
