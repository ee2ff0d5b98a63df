package import DynokeeperConfiguration
import Foundation

/// The snapshot a restore brings back, and the objects to fetch for it.
package struct RestoreSource: Sendable {
    package enum Format: String, Sendable, Codable {
        /// dynokeeper's layout: a folder with a manifest.
        case dynokeeper
        /// Netflix Dynomite-manager's: `<dc>/<rack>/<token>/<epoch ms>`, one uncompressed object.
        case dynomiteManager = "dynomite-manager"
    }

    /// One object to fetch.
    package struct File: Sendable, Codable, Equatable {
        /// The object's key in the store.
        package var key: String
        /// Its name under the data folder, as in the snapshot (`dump.rdb`, `appendonlydir/…`).
        package var name: String
        /// Whether it is zstd-compressed.
        package var compressed: Bool
        /// Size after decompression.
        package var size: Int64
        /// Size in the store.
        package var storedSize: Int64
        /// SHA-256 after decompression; `nil` for Dynomite-manager objects, which have none.
        package var sha256: String?
        /// How the object is encrypted; `nil` when it is stored in clear.
        package var encryption: FileEncryption? = nil
    }

    /// What decrypting one object needs besides the key.
    package struct FileEncryption: Sendable, Codable, Equatable {
        /// The fingerprint of the key it was encrypted with.
        package var keyFingerprint: String
        /// The snapshot, node and file it belongs to (``ChunkedEncryption``).
        package var context: String
    }

    package var format: Format

    /// The snapshot's id (for Dynomite-manager, the day it was taken).
    package var id: SnapshotID
    /// The node the data was taken from.
    package var node: NodeIdentity
    package var type: DynokeeperConfiguration.Backup.PersistenceType
    package var files: [File]
    /// dynokeeper's manifest; `nil` for Dynomite-manager objects.
    package var manifest: SnapshotManifest?

    package var size: Int64 { files.reduce(0) { $0 + $1.size } }
    /// The bytes a restore downloads.
    package var storedSize: Int64 { files.reduce(0) { $0 + $1.storedSize } }

    init(entry: SnapshotEntry) {
        format = .dynokeeper
        id = entry.id
        node = entry.node
        type = entry.manifest.type
        manifest = entry.manifest
        let manifest = entry.manifest
        files = manifest.files.map { file in
            var stored = Substring(file.object)
            if manifest.encryption != nil, stored.hasSuffix(ChunkedEncryption.objectSuffix) {
                stored = stored.dropLast(ChunkedEncryption.objectSuffix.count)
            }
            return File(
                key: entry.prefix + file.object, name: file.name,
                compressed: stored.hasSuffix(".zst") && stored != file.name,
                size: file.size, storedSize: file.storedSize, sha256: file.sha256,
                encryption: manifest.encryption.map {
                    FileEncryption(keyFingerprint: $0.keyFingerprint, context: manifest.encryptionContext(file.name))
                })
        }
    }

    init(
        dynomiteManagerKey key: String, node: NodeIdentity, day: Date, size: Int64,
        type: DynokeeperConfiguration.Backup.PersistenceType
    ) {
        format = .dynomiteManager
        id = SnapshotID(date: day)
        self.node = node
        self.type = type
        manifest = nil
        files = [
            File(
                key: key, name: type == .rdb ? "dump.rdb" : "appendonly.aof", compressed: false, size: size,
                storedSize: size, sha256: nil)
        ]
    }
}

extension RestoreSource.Format {
    /// `restore.format`: one layout, or `nil` for both (`auto`).
    package init?(_ setting: DynokeeperConfiguration.Restore.Format) {
        switch setting {
        case .dynokeeper: self = .dynokeeper
        case .dynomiteManager: self = .dynomiteManager
        case .auto: return nil
        }
    }
}
