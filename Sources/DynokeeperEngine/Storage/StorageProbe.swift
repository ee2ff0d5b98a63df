import Crypto
import Foundation
import NIOCore
package import ObjectStorage

/// Proves that a store works with the current settings: writes a probe object of random bytes, reads it
/// back and compares, finds it in a listing, deletes it.
package struct StorageProbe: Sendable {
    package let store: any ObjectStore

    package init(store: any ObjectStore) { self.store = store }

    /// - Parameters:
    ///   - bytes: The probe's size.
    ///   - report: Receives one line per step.
    package func run(bytes: Int, report: (String) -> Void) async throws {
        let key = "_dynokeeper-probe/\(ProcessInfo.processInfo.hostName)-\(UUID().uuidString.prefix(8))"
        var payload = ByteBufferAllocator().buffer(capacity: bytes)
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<(bytes / 8) { payload.writeInteger(generator.next() as UInt64) }
        for _ in 0..<(bytes % 8) { payload.writeInteger(UInt8.random(in: 0...255)) }
        let expected = payload.withUnsafeReadableBytes { SHA256.hash(data: $0) }
        report("store: \(store.location)")

        let clock = ContinuousClock()
        var start = clock.now
        let chunks = stride(from: 0, to: payload.readableBytes, by: 1 << 20).map {
            payload.getSlice(at: $0, length: min(1 << 20, payload.readableBytes - $0))!
        }
        let stored = try await store.put(key, body: ByteStream(buffers: chunks))
        report("write \(key): \(stored.size) bytes in \(clock.now - start)")

        start = clock.now
        let download = try await store.download(key)
        var hasher = SHA256()
        var size = 0
        for try await chunk in download.body {
            chunk.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
            size += chunk.readableBytes
        }
        guard size == bytes, hasher.finalize() == expected else {
            try? await store.delete([key])
            throw ObjectStoreError(
                .integrity, "the probe read back differs from what was written (\(size) of \(bytes) bytes)", key: key)
        }
        report("read back and compared: \(size) bytes in \(clock.now - start)")

        let listed = try await store.listAll(prefix: "_dynokeeper-probe/").contains { $0.key == key }
        guard listed else { throw ObjectStoreError(.other, "the probe is missing from the listing", key: key) }
        report("listed: yes")

        try await store.delete([key])
        guard try await store.head(key) == nil else {
            throw ObjectStoreError(.other, "the probe is still there after deletion", key: key)
        }
        report("deleted: yes")
        report("storage check passed")
    }
}
