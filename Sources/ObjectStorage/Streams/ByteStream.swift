package import NIOCore

/// A type-erased asynchronous sequence of byte buffers: the body of a download.
package struct ByteStream: AsyncSequence, Sendable {
    package typealias Element = ByteBuffer

    private let makeIterator: @Sendable () -> AsyncIterator

    /// Wraps any sequence of byte buffers.
    package init<Base: AsyncSequence & Sendable>(_ base: Base) where Base.Element == ByteBuffer {
        makeIterator = { AsyncIterator(base.makeAsyncIterator()) }
    }

    /// A stream of the given buffers.
    package init(buffers: [ByteBuffer]) {
        self.init(buffers.async)
    }

    package func makeAsyncIterator() -> AsyncIterator { makeIterator() }

    package struct AsyncIterator: AsyncIteratorProtocol {
        private var nextBuffer: () async throws -> ByteBuffer?

        init<Base: AsyncIteratorProtocol>(_ base: Base) where Base.Element == ByteBuffer {
            var base = base
            nextBuffer = { try await base.next() }
        }

        package mutating func next() async throws -> ByteBuffer? {
            try await nextBuffer()
        }
    }
}

extension ByteStream {
    /// Reads the whole stream into one buffer; for small objects such as manifests.
    /// - Parameter limit: The most bytes accepted; more is an error rather than unbounded memory.
    package func collect(upTo limit: Int) async throws -> ByteBuffer {
        var result = ByteBuffer()
        for try await chunk in self {
            guard result.readableBytes + chunk.readableBytes <= limit else {
                throw ObjectStoreError(.invalidRequest, "object larger than the \(limit) bytes expected")
            }
            var chunk = chunk
            result.writeBuffer(&chunk)
        }
        return result
    }
}

/// An array as an asynchronous sequence.
struct AsyncArraySequence<Element: Sendable>: AsyncSequence, Sendable {
    let elements: [Element]

    struct AsyncIterator: AsyncIteratorProtocol {
        var index: Array<Element>.Index
        let elements: [Element]
        mutating func next() async -> Element? {
            guard index < elements.endIndex else { return nil }
            defer { index += 1 }
            return elements[index]
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(index: elements.startIndex, elements: elements) }
}

extension Array where Element: Sendable {
    var async: AsyncArraySequence<Element> { AsyncArraySequence(elements: self) }
}
