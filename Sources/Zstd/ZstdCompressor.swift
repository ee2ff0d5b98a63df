import CZstd
package import NIOCore

/// Streaming zstd compression (libzstd), producing one frame with a content checksum, which `zstd -d`
/// verifies too.
///
/// Not thread-safe: one task feeds it.
package final class ZstdCompressor {
    private let context: OpaquePointer
    /// The size of the output buffers it grows at once.
    private let outputChunk = ZSTD_CStreamOutSize()

    /// - Parameters:
    ///   - level: 1 (fastest) to 19 (smallest); 3 is zstd's default.
    ///   - workers: Threads that compress in parallel (0: compress on the calling thread).
    /// - Throws: ``ZstdError`` for a level outside ``levels`` (libzstd would silently clamp it).
    package init(level: Int32 = 3, workers: Int32 = 0) throws(ZstdError) {
        guard Self.levels.contains(level) else {
            throw ZstdError("compression level \(level) is outside \(Self.levels)")
        }
        guard let context = ZSTD_createCCtx() else { throw ZstdError("cannot create a zstd compression context") }
        self.context = context
        try ZstdError.check(
            ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level), "compression level \(level)")
        try ZstdError.check(ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1), "content checksum")
        if workers > 0 {
            // A libzstd built without threads refuses; compress on this thread then.
            _ = ZSTD_CCtx_setParameter(context, ZSTD_c_nbWorkers, workers)
        }
    }

    deinit { ZSTD_freeCCtx(context) }

    /// The levels libzstd accepts.
    package static var levels: ClosedRange<Int32> { ZSTD_minCLevel()...ZSTD_maxCLevel() }

    /// Compresses a chunk, appending whatever output is ready to `output`.
    package func compress(_ input: ByteBuffer, into output: inout ByteBuffer) throws(ZstdError) {
        try run(input, mode: ZSTD_e_continue, into: &output)
    }

    /// Ends the frame, appending the remaining output (and the checksum) to `output`.
    package func finish(into output: inout ByteBuffer) throws(ZstdError) {
        try run(ByteBuffer(), mode: ZSTD_e_end, into: &output)
    }

    private func run(_ input: ByteBuffer, mode: ZSTD_EndDirective, into output: inout ByteBuffer) throws(ZstdError) {
        try input.withUnsafeReadableBytes { (source) throws(ZstdError) in
            var inBuffer = ZSTD_inBuffer(src: source.baseAddress, size: source.count, pos: 0)
            while true {
                var remaining = 0
                try output.writeWithUnsafeMutableBytes(minimumWritableBytes: outputChunk) {
                    (target) throws(ZstdError) -> Int in
                    var outBuffer = ZSTD_outBuffer(dst: target.baseAddress, size: target.count, pos: 0)
                    remaining = try ZstdError.check(
                        ZSTD_compressStream2(context, &outBuffer, &inBuffer, mode), "zstd compression")
                    return outBuffer.pos
                }
                let consumed = inBuffer.pos == inBuffer.size
                if mode == ZSTD_e_end ? remaining == 0 : consumed { return }
            }
        }
    }
}
