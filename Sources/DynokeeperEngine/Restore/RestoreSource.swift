public import DynokeeperConfiguration
import Foundation

/// The snapshot a restore brings back, and the objects to fetch for it.
public struct RestoreSource: Sendable {
    public enum Format: String, Sendable, Codable {
        /// dynokeeper's layout: a folder with a manifest.
        case dynokeeper
        /// Netflix Dynomite-manager's: `<dc>/<rack>/<token>/<epoch ms>`, one uncompressed object.
        case dynomiteManager = "dynomite-manager"
    }

    /// One object to fetch.
    public struct File: Sendable, Codable, Equatable {
        /// The object's key in the store.
        public var key: String
        /// Its name under the data folder, as in the snapshot (`dump.rdb`, `appendonlydir/…`).
        public var name: String
        /// Whether it is zstd-compressed.
        public var compressed: Bool
        /// Size after decompression.
        public var size: Int64
        /// Size in the store.
        public var storedSize: Int64
        /// SHA-256 after decompression; `nil` for Dynomite-manager objects, which have none.
        public var sha256: String?
    }

    public var format: Format
    /// The snapshot's id (for Dynomite-manager, the day it was taken).
    public var id: SnapshotID
    /// The node the data was taken from.
    public var node: NodeIdentity
    public var type: DynokeeperConfiguration.Backup.PersistenceType
    public var files: [File]
    /// dynokeeper's manifest; `nil` for Dynomite-manager objects.
    public var manifest: SnapshotManifest?

    public var size: Int64 { files.reduce(0) { $0 + $1.size } }
    /// The bytes a restore downloads.
    public var storedSize: Int64 { files.reduce(0) { $0 + $1.storedSize } }

    init(entry: SnapshotEntry) {
        format = .dynokeeper
        id = entry.id
        node = entry.node
        type = entry.manifest.type
        manifest = entry.manifest
        files = entry.manifest.files.map {
            File(
                key: entry.prefix + $0.object, name: $0.name, compressed: $0.object.hasSuffix(".zst") && $0.object != $0.name,
                size: $0.size, storedSize: $0.storedSize, sha256: $0.sha256)
        }
    }

    init(dynomiteManagerKey key: String, node: NodeIdentity, day: Date, size: Int64, type: DynokeeperConfiguration.Backup.PersistenceType) {
        format = .dynomiteManager
        id = SnapshotID(date: day)
        self.node = node
        self.type = type
        manifest = nil
        files = [File(key: key, name: type == .rdb ? "dump.rdb" : "appendonly.aof", compressed: false, size: size, storedSize: size, sha256: nil)]
    }
}
