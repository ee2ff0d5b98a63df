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
        guard input.readableBytes > 0 else { return }
        sawInput = true
        try input.withUnsafeReadableBytes { (source) throws(ZstdError) in
            var inBuffer = ZSTD_inBuffer(src: source.baseAddress, size: source.count, pos: 0)
            while inBuffer.pos < inBuffer.size || pending > 0 {
                var written = 0
                try output.writeWithUnsafeMutableBytes(minimumWritableBytes: outputChunk) {
                    (target) throws(ZstdError) -> Int in
                    var outBuffer = ZSTD_outBuffer(dst: target.baseAddress, size: target.count, pos: 0)
                    pending = try ZstdError.check(
                        ZSTD_decompressStream(context, &outBuffer, &inBuffer), "zstd data is corrupt")
                    written = outBuffer.pos
                    return outBuffer.pos
                }
                produced += written
                if produced > limit {
                    throw ZstdError("zstd data expands beyond the \(limit) bytes expected")
                }
                // Input used up and nothing more to flush: wait for the next chunk.
                if inBuffer.pos == inBuffer.size && written < outputChunk { break }
            }
        }
    }

    /// Checks that the data ended at the end of a frame.
    package func finish() throws(ZstdError) {
        guard sawInput else { throw ZstdError("zstd data is empty") }
        guard pending == 0 else { throw ZstdError("zstd data is truncated: it ends in the middle of a frame") }
    }
}
