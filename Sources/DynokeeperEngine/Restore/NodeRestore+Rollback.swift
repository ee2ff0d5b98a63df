import DynokeeperConfiguration
import Foundation
import Logging
import NodeControl
import ObjectStorage

extension NodeRestore {
    /// Puts the previous data back and starts the processes again. Returns the state the node is in.
    ///
    /// Safe to repeat after a failure or a crash at any point: the journal goes to `rolling_back` first (so that
    /// a resume can no longer take the previous data for the restored one), each path is undone once and
    /// recorded, and a file is only removed from the data folder while the previous version of its path is
    /// safe in `previous/` (or when the node had no such path).
    func undo(_ initial: RestoreJournal, folders: NodeFolders, dynomite: DynomiteService?) async throws -> String {
        try await ChildProcess.$observer.withValue(CommandTracker(folders)) {
            try await undoSteps(initial, folders: folders, dynomite: dynomite)
        }
    }

    private func undoSteps(
        _ initial: RestoreJournal, folders: NodeFolders, dynomite: DynomiteService?
    ) async throws -> String {
        var journal = initial
        let redis = redisService
        guard journal.phase != .committed else {
            throw RestoreCommittedError(
                "the restore of snapshot \(journal.snapshot) had finished (its data is in place and checked) when it stopped; only removing the set-aside files was left, which the previous data no longer survives whole: it cannot be rolled back. Run `dynokeeper restore --resume` to finish it"
            )
        }
        if journal.phase != .rollingBack {
            journal.rollbackFrom = journal.phase
            journal.phase = .rollingBack
            do {
                try await journal.save(folders)
            } catch let error where journal.setAside.isEmpty && journal.placed.isEmpty && journal.online == nil {
                // Nothing of the node's data moved: starting Redis (and Dynomite) again needs no record, and must not
                // wait for one that cannot be written (a full disk).
                logger.warning("cannot record the rollback (\(error)); nothing was moved, so Redis is started again")
            }
        }
        if let online = journal.online {
            if await redis.isUp() {
                try await connector.withConnection { try await OnlineLoad.detach($0, settings: online.settings) }
            }
            if !online.lastBytesSent && !journal.setAside.isEmpty {
                // Redis never got the bytes that end the load: it kept its data, and previous/ holds only links
                // to its files.
                try await LocalFileSystem.remove(journal.previous)
                journal.setAside = []
                try await journal.save(folders)
            }
        }
        let directory = journal.directory
        let touched = (journal.rollbackFrom ?? .prepared) >= .stopped
        let pending =
            journal.setAside.filter { LocalFileSystem.exists(journal.previous + "/" + $0) }
            + journal.placed.filter { !journal.covered($0) && !journal.undone.contains($0) }
        if touched && !pending.isEmpty {
            // Redis may run on the restored files (or have come back): it must be down while they go.
            if await redis.isUp() { try await redis.stop() }
            try await redis.ensureDown(before: "put the previous data back")
            // Restored files where the node had nothing: removed.
            for target in journal.placed.reversed() where !journal.covered(target) && !journal.undone.contains(target) {
                try await LocalFileSystem.remove(directory + "/" + target)
                journal.undone.append(target)
                try await journal.save(folders)
            }
            for folder in journal.createdFolders.reversed() where !journal.covered(folder) {
                rmdir(directory + "/" + folder)
            }
            // Set-aside paths: the restored version (or whatever Redis made since) goes, the previous one comes
            // back. A path whose previous/ copy is gone was already moved back and is left alone.
            for path in journal.setAside where LocalFileSystem.exists(journal.previous + "/" + path) {
                try await LocalFileSystem.remove(directory + "/" + path)
                try await LocalFileSystem.rename(journal.previous + "/" + path, to: directory + "/" + path)
                journal.undone.append(path)
                try await journal.save(folders)
            }
            try await LocalFileSystem.syncFolder(directory)
        }
        let startedRedis = !(await redis.isUp())
        if startedRedis {
            logger.info("starting Redis on its previous data")
            try await redis.start()
        }
        if journal.stoppedDynomite, let dynomite, !(await dynomite.isUp()) {
            logger.info("starting Dynomite")
            try await dynomite.start()
        }
        try await Self.removeWorkFolder(journal)
        try await RestoreJournal.remove(folders)
        let running = journal.stoppedDynomite ? "Redis and Dynomite run" : "Redis runs"
        guard startedRedis && journal.skipSafetySave else {
            return "Rolled back: the previous data is back in place and \(running) again."
        }
        // Redis loaded its files again, and no safety save had brought them up to date.
        return
            "Rolled back: \(running) again, Redis on its data files as they were before the restore; with --no-safety-save they hold what Redis last saved before it, without the writes after that save."
    }

    /// The error of a rollback that did not finish, saying where the node's data is and what to do.
    static func rollbackFailure(
        _ error: any Error, folders: NodeFolders, fallback: RestoreJournal, restoreError: String? = nil
    ) -> DynokeeperError {
        let journal = (try? RestoreJournal.load(folders)) ?? fallback
        let prefix = restoreError.map { "\($0). Rolling back failed too: " } ?? "rolling back failed: "
        // The journal stays: like any unfinished restore, the node waits for a rollback (or resume).
        return DynokeeperError(
            .unfinishedRestore,
            prefix
                + "\(clause(error)). Where the node's previous data is now: \(journal.previousDataSummary). The journal \(folders.journal) records where every file is; once the cause is fixed, run `dynokeeper restore --rollback` again (it is safe to repeat), or see the README's manual recovery"
        )
    }

    /// An error's text to go on with more text after it: without its own final full stop.
    static func clause(_ error: any Error) -> String {
        var text = "\(error)"
        while text.hasSuffix(".") { text.removeLast() }
        return text
    }
}

/// A rollback asked for after the restore had succeeded (only its clean-up was interrupted).
struct RestoreCommittedError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension RestoreJournal {
    /// Whether a path lies in (or is) a path that was set aside: its previous version is then that path's.
    func covered(_ target: String) -> Bool {
        setAside.contains { target == $0 || target.hasPrefix($0 + "/") }
    }
}
