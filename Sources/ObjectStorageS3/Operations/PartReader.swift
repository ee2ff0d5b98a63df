import NIOCore

/// Cuts a stream of buffers of any size into parts of exactly `partSize` bytes (the last may be shorter).
struct PartReader<Base: AsyncIteratorProtocol> where Base.Element == ByteBuffer {
    var base: Base
    let partSize: Int
    private var leftover: ByteBuffer?
    private var finished = false

    init(_ base: Base, partSize: Int) {
        self.base = base
        self.partSize = partSize
    }

    /// The next part, or `nil` once the stream is exhausted. An empty stream yields one empty part,
    /// so that an empty object can still be stored.
    mutating func next(first: Bool = false) async throws -> ByteBuffer? {
        // What is left of a chunk larger than a part goes out a part at a time, never as one oversized part.
        if var rest = leftover, rest.readableBytes >= partSize {
            let part = rest.readSlice(length: partSize)!
            leftover = rest.readableBytes > 0 ? rest : nil
            return part
        }
        guard !finished else { return nil }
        var part = leftover ?? ByteBufferAllocator().buffer(capacity: 0)
        leftover = nil
        while part.readableBytes < partSize {
            guard var chunk = try await base.next() else {
                finished = true
                return part.readableBytes > 0 || first ? part : nil
            }
            if part.readableBytes == 0 && chunk.readableBytes <= partSize {
                if part.capacity < partSize { part.reserveCapacity(partSize) }
            }
            let needed = partSize - part.readableBytes
            if chunk.readableBytes > needed {
                var head = chunk.readSlice(length: needed)!
                part.writeBuffer(&head)
                leftover = chunk
            } else {
                part.writeBuffer(&chunk)
            }
        }
        return part
    }

    /// Whether the stream has ended (no part follows the last one returned).
    var isFinished: Bool { finished && leftover == nil }
}
