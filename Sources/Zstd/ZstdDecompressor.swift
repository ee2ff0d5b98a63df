import CZstd
package import NIOCore

/// Streaming zstd decompression; checks each frame's content checksum, and at ``finish()`` that the input
/// did not stop in the middle of a frame.
///
/// Not thread-safe: one task feeds it.
package final class ZstdDecompressor {
    private let context: OpaquePointer
    private let outputChunk = ZSTD_DStreamOutSize()
    /// 0 once a frame is complete; the size hint of what is still expected otherwise.
    private var pending = 0
    /// The last call filled the room it was given: zstd may hold more output, to be had without more input.
    package private(set) var mayHaveMoreOutput = false
    private var sawInput = false
    private let limit: Int
    /// The bytes produced so far.
    package private(set) var produced = 0

    /// - Parameter limit: Fails once the output would grow beyond this many bytes in all (a defence against
    ///   decompression bombs; the caller knows the expected size).
    package init(limit: Int = .max) throws(ZstdError) {
        guard let context = ZSTD_createDCtx() else { throw ZstdError("cannot create a zstd decompression context") }
        self.context = context
        self.limit = limit
    }

    deinit { ZSTD_freeDCtx(context) }

    /// Decompresses a chunk, appending the output to `output`.
    package func decompress(_ input: ByteBuffer, into output: inout ByteBuffer) throws(ZstdError) {
        var input = input
        try decompress(&input, into: &output, upTo: .max)
    }

    /// Decompresses from `input` (moving its reader index past what it used) into `output`, until the input is
    /// used up and nothing more comes out of it, or `output` holds `upTo` bytes. Call again while
    /// ``mayHaveMoreOutput``, with empty input if need be.
    ///
    /// With `output` made with a capacity of `upTo`, it never grows: a caller can make every piece the same size,
    /// one that malloc reuses rather than fresh pages each time.
    package func decompress(_ input: inout ByteBuffer, into output: inout ByteBuffer, upTo: Int) throws(ZstdError) {
        guard input.readableBytes > 0 || mayHaveMoreOutput, output.readableBytes < upTo else { return }
        sawInput = true
        try input.readWithUnsafeReadableBytes { (source) throws(ZstdError) -> Int in
            var inBuffer = ZSTD_inBuffer(src: source.baseAddress, size: source.count, pos: 0)
            repeat {
                let wanted = upTo - output.readableBytes
                var written = 0
                // Grows `output` only when it has less room than that.
                try output.writeWithUnsafeMutableBytes(minimumWritableBytes: min(wanted, outputChunk)) {
                    (target) throws(ZstdError) -> Int in
                    var outBuffer = ZSTD_outBuffer(dst: target.baseAddress, size: min(target.count, wanted), pos: 0)
                    pending = try ZstdError.check(
                        ZSTD_decompressStream(context, &outBuffer, &inBuffer), "zstd data is corrupt")
                    written = outBuffer.pos
                    // A full window may have left output inside zstd, unless the frame just ended (0): then nothing
                    // is left, and another call would only overwrite `pending` with the next frame's header size.
                    mayHaveMoreOutput = pending != 0 && outBuffer.pos == outBuffer.size
                    return outBuffer.pos
                }
                produced += written
                if produced > limit {
                    throw ZstdError("zstd data expands beyond the \(limit) bytes expected")
                }
            } while (inBuffer.pos < inBuffer.size || mayHaveMoreOutput) && output.readableBytes < upTo
            return inBuffer.pos
        }
    }

    /// Checks that the data ended at the end of a frame.
    package func finish() throws(ZstdError) {
        guard sawInput else { throw ZstdError("zstd data is empty") }
        guard pending == 0 else { throw ZstdError("zstd data is truncated: it ends in the middle of a frame") }
    }
}
