package import DynokeeperConfiguration
package import Foundation
package import RedisClient

/// What a snapshot holds, written last into its folder: a snapshot without one is incomplete and never
/// offered for restore.
package struct SnapshotManifest: Codable, Sendable, Equatable {
    /// The version of this format; readers refuse versions they do not know. Encrypted snapshots are format 2, so
    /// that a dynokeeper without encryption refuses them by name instead of calling them damaged.
    package static let currentFormat = 2

    package struct Tool: Codable, Sendable, Equatable {
        package var name: String
        package var version: String
    }

    package struct Redis: Codable, Sendable, Equatable {
        package var version: String
        /// `host:port` as dynokeeper reached it.
        package var address: String
        /// For multi-part AOF (Redis 7+): the folder and the manifest's name.
        package var aofDirectory: String?
        package var aofManifest: String?
    }

    package struct Compression: Codable, Sendable, Equatable {
        /// `zstd` or `none`.
        package var algorithm: String
        package var level: Int?
    }

    /// How the stored objects are encrypted (``ChunkedEncryption``); the key itself is never stored.
    package struct Encryption: Codable, Sendable, Equatable {
        /// `aes-256-gcm-chunked`.
        package var algorithm: String
        /// The fingerprint of the key (``SnapshotKeyring``) a restore needs.
        package var keyFingerprint: String
        /// Bytes of data per encrypted chunk.
        package var chunkSize: Int
    }

    /// One stored file.
    package struct File: Codable, Sendable, Equatable {
        /// The file's path under Redis's data folder: `dump.rdb`, `appendonlydir/appendonly.aof.1.base.rdb`.
        package var name: String
        /// The object's key within the snapshot folder: the name, with `.zst` when compressed and `.enc` when
        /// encrypted.
        package var object: String
        /// Bytes before compression.
        package var size: Int64
        /// Bytes stored.
        package var storedSize: Int64
        /// SHA-256 (hex) of the bytes before compression.
        package var sha256: String
    }

    package var format: Int
    package var snapshotID: SnapshotID
    package var tool: Tool
    package var node: NodeIdentity
    package var hostname: String
    package var redis: Redis
    package var type: DynokeeperConfiguration.Backup.PersistenceType
    package var compression: Compression
    package var files: [File]
    /// Keys per database (`db0`, …) when the backup was taken.
    package var keyspace: [String: RedisInfo.Keyspace]
    /// Whether the key counts are those of the saved data exactly (RDB taken right after them) or approximate
    /// (writes may have come in between).
    package var keyspaceExact: Bool
    /// The RDB format version of the RDB file (or of the AOF's RDB base), so that a restore can refuse a snapshot
    /// the node's Redis cannot load before it touches the node; `nil` in older manifests and for AOFs without one.
    package var rdbVersion: Int?
    package var startedAt: Date
    package var finishedAt: Date
    /// How the RDB was taken: `file` (BGSAVE) or `stream` (Redis's replication link); `nil` in older manifests
    /// and for AOF snapshots.
    package var method: DynokeeperConfiguration.Backup.Method? = nil
    /// `nil` when the objects are stored in clear.
    package var encryption: Encryption? = nil
    /// Where in Redis's replication history the data was taken, linking the snapshot to the archived command
    /// stream (point-in-time recovery); `nil` in older manifests and for AOF snapshots.
    package var replication: Replication? = nil

    /// A replication id and the offset of the last byte of its stream that the data holds (`master_replid`,
    /// `master_repl_offset`).
    package struct Replication: Codable, Sendable, Equatable, CustomStringConvertible {
        package var id: String
        package var offset: Int64

        package init(id: String, offset: Int64) {
            self.id = id
            self.offset = offset
        }

        init(_ position: ReplicationLink.Position) {
            self.init(id: position.replicationID, offset: position.offset)
        }

        /// From `INFO replication`; `nil` when it names no id.
        init?(_ info: RedisInfo) {
            guard let id = info["master_replid"], id.count == 40, let offset = info.int("master_repl_offset") else {
                return nil
            }
            self.init(id: id, offset: Int64(offset))
        }

        package var description: String { "\(id):\(offset)" }
    }

    /// The context each encrypted object of this snapshot binds: snapshot, node and file.
    package func encryptionContext(_ file: String) -> String { Self.encryptionContext(snapshotID, node, file: file) }

    static func encryptionContext(_ id: SnapshotID, _ node: NodeIdentity, file: String) -> String {
        ChunkedEncryption.context(snapshot: id.text, node: "\(node.cluster)/\(node)", file: file)
    }

    // Spelled so that the snake_case strategies map `snapshot_id` both ways.
    enum CodingKeys: String, CodingKey {
        case format, tool, node, hostname, redis, type, compression, files, keyspace, keyspaceExact, rdbVersion,
            startedAt, finishedAt, method, encryption, replication
        case snapshotID = "snapshotId"
    }

    /// The total size before compression.
    package var size: Int64 { files.reduce(0) { $0 + $1.size } }
    /// The total size stored.
    package var storedSize: Int64 { files.reduce(0) { $0 + $1.storedSize } }
    /// Keys in all databases.
    package var keyCount: Int { keyspace.values.reduce(0) { $0 + $1.keys } }

    /// The encoding manifests (and other dynokeeper JSON) use: snake_case keys, ISO 8601 dates.
    /// - Parameter pretty: Indented (manifests) or one line (JSON lines output).
    package static func makeEncoder(pretty: Bool = true) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting =
            pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    package static let encoder = makeEncoder()

    package static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()

    /// Reads a manifest, refusing formats this version does not know.
    package static func decode(_ data: Data, key: String) throws -> SnapshotManifest {
        struct Header: Decodable { var format: Int }
        guard let header = try? decoder.decode(Header.self, from: data) else {
            throw DynokeeperError.snapshot("\(key) is not a dynokeeper manifest")
        }
        guard header.format <= currentFormat else {
            throw DynokeeperError.snapshot(
                "\(key) has manifest format \(header.format); this dynokeeper reads up to \(currentFormat): upgrade it")
        }
        let manifest: SnapshotManifest
        do {
            manifest = try decoder.decode(SnapshotManifest.self, from: data)
        } catch {
            throw DynokeeperError.snapshot("\(key) is a damaged manifest: \(error)")
        }
        // Whoever may write to the store writes manifests: their names become paths on this host (fetch, verify's
        // drill, a restore's plan) and must stay under the folder they are joined to.
        if let problem = manifest.problem {
            throw DynokeeperError.snapshot("\(key) is a damaged manifest: \(problem)")
        }
        return manifest
    }

    /// What makes a decoded manifest unusable: a name that would leave its folder, or a negative size or count.
    var problem: String? {
        for file in files {
            for (what, name) in [("file name", file.name), ("object name", file.object)]
            where !Self.isRelativePath(name) {
                return "its \(what) \(name.debugDescription) is not a path inside a folder"
            }
            if file.size < 0 || file.storedSize < 0 { return "\(file.name) has a negative size" }
        }
        for name in [redis.aofDirectory, redis.aofManifest].compactMap({ $0 })
        where !Self.isRelativePath(name) || name.contains("/") {
            return "its AOF name \(name.debugDescription) is not a plain name"
        }
        if keyspace.values.contains(where: { $0.keys < 0 || $0.expires < 0 }) { return "a key count is negative" }
        return nil
    }

    /// A relative path of plain names: not empty, no `.` or `..`, no control characters.
    static func isRelativePath(_ name: String) -> Bool {
        !name.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7f }
            && name.split(separator: "/", omittingEmptySubsequences: false).allSatisfy {
                !$0.isEmpty && $0 != "." && $0 != ".."
            }
    }
}
