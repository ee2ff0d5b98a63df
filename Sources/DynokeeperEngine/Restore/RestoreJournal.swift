package import DynokeeperConfiguration
package import Foundation
import NIOCore
import ObjectStorage

/// What a restore has done so far, kept in the state folder (`<state>/restore-journal.json`), so that an
/// interrupted restore can be found, reported, finished (`--resume`) or undone (`--rollback`) even while Redis is
/// down.
///
/// It is written durably before and after every move of a file. Moves are renames within the data folder, so a
/// file is always at its old or its new place; ``setAside`` and ``placed`` record each move before it happens,
/// and the file system tells which side of the rename a crash left it on. ``files`` says, for the operator,
/// where the node's previous data and the restored data are at every moment.
package struct RestoreJournal: Sendable, Codable, Equatable {
    package enum Phase: String, Sendable, Codable, Comparable {
        /// Fetching the snapshot; nothing touched yet.
        case downloading
        /// Everything fetched and verified; nothing touched yet (unless ``stoppedDynomite``).
        case prepared
        /// Dynomite and Redis stopped.
        case stopped
        /// The previous data files moved into `previous/`.
        case setAside
        /// The new files in place.
        case placed
        /// Redis started on the new data.
        case started
        /// The restored data checked and Dynomite started: the restore succeeded; only the set-aside files remain
        /// to be removed (a rollback is no longer possible, a resume finishes the clean-up).
        case committed
        /// Undoing the restore: the previous data goes back, then the processes start.
        case rollingBack = "rolling_back"

        static let order: [Phase] = [
            .downloading, .prepared, .stopped, .setAside, .placed, .started, .committed, .rollingBack,
        ]
        package static func < (lhs: Phase, rhs: Phase) -> Bool {
            order.firstIndex(of: lhs)! < order.firstIndex(of: rhs)!
        }
    }

    /// Where one data path's versions are.
    package struct FileLocation: Sendable, Codable, Equatable {
        /// The path relative to the data folder (`dump.rdb`, `appendonlydir`).
        package var path: String
        /// Where the node's data from before the restore is (absolute), `nil` when the node had none.
        package var previous: String?
        /// Where the restored version is (absolute), `nil` when it is not on this machine (any more).
        package var restored: String?
    }

    package var format = 2
    package var phase: Phase
    package var snapshot: String
    package var sourceNode: NodeIdentity
    package var type: DynokeeperConfiguration.Backup.PersistenceType
    /// The target's layout (with its absolute data folder) and what goes where.
    package var plan: RestorePlan
    /// The work folder in the data folder: `incoming/` (fetched files), `previous/` (set-aside files).
    package var work: String
    /// Paths (relative to the data folder) moved, or about to be moved, into `previous/`.
    package var setAside: [String] = []
    /// Placement targets moved, or about to be moved, into the data folder.
    package var placed: [String] = []
    /// Paths a rollback has already put back (set-aside paths) or removed (restored files the node did not have).
    package var undone: [String] = []
    /// Folders the placements created in the data folder (removed again by a rollback).
    package var createdFolders: [String] = []
    /// Whether the restore stopped Dynomite (and must start it again).
    package var stoppedDynomite = false
    /// The `run_id`s of the Redis the restore stopped: the one that serves afterwards must be another.
    package var stoppedRedisRunIDs: [String] = []
    /// Whether the restore skips the safety save (`--no-safety-save`); a resume does as the restore would.
    package var skipSafetySave = false
    /// The manifest's key counts, to check the data once loaded.
    package var keyspace: [String: KeyCount]?
    package var keyspaceExact = false
    package var startedAt: Date
    /// The process that ran the restore.
    package var pid: Int32
    /// The phase a rollback started from.
    package var rollbackFrom: Phase?
    /// The last failure, for status reports.
    package var lastError: String?
    /// Where every file is now (written with each save, for operators).
    package var files: [FileLocation] = []
    /// For an online restore (`restore.method: online`): what it changes in Redis and how far the load went.
    package var online: OnlineState?
    /// For a point-in-time restore (`--to-time`): the archived commands applied after the base is loaded.
    package var pointInTime: PointInTimeState?

    /// How far a point-in-time restore's replay went. The replay loads the base again with the commands after it
    /// (over the replication link), so one that was interrupted is simply done again.
    package struct PointInTimeState: Sendable, Codable, Equatable {
        package var plan: PointInTimeArchive.Plan
        /// Set once every command up to the target is applied.
        package var replayed = false
        /// Redis's settings that the replay changes (``OnlineLoad/changedSettings``), saved before it starts: a replay
        /// that was killed left Redis a replica of a port that is gone, and a resume puts them back first.
        package var settings: [String: String]? = nil
    }

    /// How far an online restore went. Its `previous/` holds hard links to the node's files (Redis keeps running
    /// on them), and the phases mean: `stopped`, Dynomite stopped and Redis saved; `set_aside`, the links made and
    /// the load under way; `started`, the data loaded and Redis on its own again.
    package struct OnlineState: Sendable, Codable, Equatable {
        /// Redis's settings before the load (`repl-diskless-load`, `masterauth`), put back after it.
        package var settings: [String: String]
        /// Whether the bytes that let Redis finish the load were sent: from then on Redis may hold the restored
        /// data, and only the files in `previous/` hold the node's previous data.
        package var lastBytesSent = false
        /// The `run_id` of the Redis that loaded the data: a Redis that restarted since holds its previous files'.
        package var loadedRunID: String?
    }

    package struct KeyCount: Sendable, Codable, Equatable {
        package var keys: Int
        package var expires: Int
    }

    static let fileName = "restore-journal.json"
    static let workFolderName = ".dynokeeper-restore"

    var directory: String { plan.layout.directory }
    var incoming: String { work + "/incoming" }
    var previous: String { work + "/previous" }
    /// Where a point-in-time restore keeps the archive segments it fetched.
    var segments: String { work + "/segments" }
    /// The base a point-in-time restore's replay loads (a hard link to the fetched RDB).
    var replayBase: String { segments + "/base.rdb" }

    /// Reads the journal of an unfinished restore, if there is one.
    package static func load(_ folders: NodeFolders) throws -> RestoreJournal? {
        guard let data = FileManager.default.contents(atPath: folders.journal) else {
            if FileManager.default.fileExists(atPath: folders.journal) {
                throw DynokeeperError.snapshot("the restore journal \(folders.journal) cannot be read by this user")
            }
            return nil
        }
        do {
            return try SnapshotManifest.decoder.decode(RestoreJournal.self, from: data)
        } catch {
            throw DynokeeperError.snapshot(
                "the restore journal \(folders.journal) is damaged (\(error)); see the README's manual recovery")
        }
    }

    /// Writes the journal durably (a temporary file, flushed, renamed over the old one), with ``files`` brought
    /// up to date.
    mutating func save(_ folders: NodeFolders) async throws {
        files = locations()
        let path = folders.journal
        let temporary = path + ".new"
        try await LocalFileSystem.remove(temporary)
        let writer = try await LocalFileWriter.create(temporary)
        try await writer.write(.init(bytes: try SnapshotManifest.encoder.encode(self)))
        try await writer.sync()
        try await LocalFileSystem.rename(temporary, to: path)
        StateFolder.giveToDataOwner(path, folders: folders, mode: 0o660)
        CrashPoint.journalSaved()
    }

    static func remove(_ folders: NodeFolders) async throws {
        try await LocalFileSystem.remove(folders.journal)
        try await LocalFileSystem.syncFolder(folders.state)
    }

    /// The top-level data paths this restore concerns: what Redis had, and what the placements add.
    var dataPaths: [String] {
        var paths = plan.layout.dataPaths
        for placement in plan.placements {
            let top = String(placement.target.split(separator: "/").first ?? "")
            if !paths.contains(top) { paths.append(top) }
        }
        return paths
    }

    /// Where the previous and the restored version of every data path are, from the journal and the file system.
    func locations() -> [FileLocation] {
        dataPaths.map { path in
            let inData = directory + "/" + path
            let setAsideCopy = previous + "/" + path
            var location = FileLocation(path: path)
            if LocalFileSystem.exists(setAsideCopy) {
                location.previous = setAsideCopy
            } else if setAside.contains(path) || phase < .setAside
                || (phase == .rollingBack && (rollbackFrom ?? .prepared) < .setAside)
            {
                // Never moved, or moved back.
                location.previous = LocalFileSystem.exists(inData) ? inData : nil
            }
            let targets = plan.placements.map(\.target).filter { $0 == path || $0.hasPrefix(path + "/") }
            if targets.contains(where: { LocalFileSystem.exists(incoming + "/" + $0) }) {
                location.restored = incoming + "/" + path
            } else if targets.contains(where: { placed.contains($0) }) && location.previous != inData
                && LocalFileSystem.exists(inData)
            {
                location.restored = inData
            }
            return location
        }
    }

    /// For messages: where the previous data is now.
    var previousDataSummary: String {
        let places = locations().compactMap { location in location.previous.map { "\(location.path): \($0)" } }
        return places.isEmpty ? "the node had no data files" : places.joined(separator: "; ")
    }
}
