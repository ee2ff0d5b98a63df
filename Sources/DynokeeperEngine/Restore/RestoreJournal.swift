public import DynokeeperConfiguration
public import Foundation
import ObjectStorage

/// What a restore has done so far, kept on disk in the data folder (`.dynokeeper-restore/journal.json`) so
/// that an interrupted restore can be finished (`restore --resume`) or undone (`restore --rollback`).
public struct RestoreJournal: Sendable, Codable, Equatable {
    public enum Phase: String, Sendable, Codable, Comparable {
        /// Fetching the snapshot; nothing touched yet.
        case downloading
        /// Everything fetched and verified; nothing touched yet.
        case prepared
        /// Dynomite and Redis stopped.
        case stopped
        /// The previous data files moved into `previous/`.
        case setAside
        /// The new files in place.
        case placed
        /// Redis started on the new data.
        case started

        static let order: [Phase] = [.downloading, .prepared, .stopped, .setAside, .placed, .started]
        public static func < (lhs: Phase, rhs: Phase) -> Bool { order.firstIndex(of: lhs)! < order.firstIndex(of: rhs)! }
    }

    public var format = 1
    public var phase: Phase
    public var snapshot: String
    public var sourceNode: NodeIdentity
    public var type: DynokeeperConfiguration.Backup.PersistenceType
    public var plan: RestorePlan
    /// Paths (relative to the data folder) moved into `previous/`.
    public var setAside: [String] = []
    /// Whether the restore stopped Dynomite (and must start it again).
    public var stoppedDynomite = false
    /// The manifest's key counts, to check the data once loaded.
    public var keyspace: [String: KeyCount]?
    public var keyspaceExact = false
    public var startedAt: Date

    public struct KeyCount: Sendable, Codable, Equatable {
        public var keys: Int
        public var expires: Int
    }

    static let folderName = ".dynokeeper-restore"

    /// The work folder in a data folder.
    static func folder(in directory: String) -> String { directory + "/" + folderName }

    static func path(in directory: String) -> String { folder(in: directory) + "/journal.json" }

    /// Reads the journal of an unfinished restore, if there is one.
    static func load(in directory: String) throws -> RestoreJournal? {
        let path = path(in: directory)
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        do {
            return try SnapshotManifest.decoder.decode(RestoreJournal.self, from: data)
        } catch {
            throw SnapshotError("the restore journal \(path) is damaged (\(error)); see the README's manual recovery")
        }
    }

    /// Writes the journal durably: a temporary file, flushed, renamed over the old one.
    func save(in directory: String) async throws {
        let path = Self.path(in: directory)
        let temporary = path + ".new"
        try await LocalFileSystem.remove(temporary)
        let writer = try await LocalFileWriter.create(temporary)
        try await writer.write(.init(bytes: try SnapshotManifest.encoder.encode(self)))
        try await writer.sync()
        try await LocalFileSystem.rename(temporary, to: path)
    }
}

import NIOCore
