package import Foundation
import NIOCore
package import ObjectStorage

/// Pins: a snapshot whose folder holds `pin.json` (when and why it was pinned) is never pruned.
package struct SnapshotPins: Sendable {
    /// What `pin.json` holds.
    package struct Pin: Sendable, Codable, Equatable {
        package var pinnedAt: Date
        package var note: String?

        package init(pinnedAt: Date, note: String?) {
            self.pinnedAt = pinnedAt
            self.note = note
        }
    }

    static let name = "pin.json"

    package let store: any ObjectStore

    package init(store: any ObjectStore) { self.store = store }

    /// Pins (again, with this note, when already pinned).
    @discardableResult
    package func pin(_ entry: SnapshotEntry, note: String?) async throws -> Pin {
        let pin = Pin(pinnedAt: Date(), note: note)
        let json = try SnapshotManifest.encoder.encode(pin)
        _ = try await store.put(
            entry.prefix + Self.name, bytes: ByteBuffer(bytes: json),
            options: PutOptions(contentType: "application/json"))
        return pin
    }

    package func unpin(_ entry: SnapshotEntry) async throws {
        try await store.delete([entry.prefix + Self.name])
    }

    /// The pin of a snapshot, `nil` when it has none.
    package func pin(of entry: SnapshotEntry) async throws -> Pin? {
        guard entry.pinned else { return nil }
        do {
            let bytes = try await store.getBytes(entry.prefix + Self.name, limit: 1 << 20)
            return try SnapshotManifest.decoder.decode(Pin.self, from: Data(bytes.readableBytesView))
        } catch let error as ObjectStoreError where error.code == .notFound {
            return nil
        }
    }
}
