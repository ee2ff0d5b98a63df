import DynokeeperConfiguration
import Foundation
import Logging
import NodeControl
import ObjectStorage
import RedisClient

extension NodeRestore {
    /// The steps from stopping the node on, each recorded in the journal before and after it; rolls back on
    /// failure. Every step checks the file system as well as the journal, so that it can run again after a crash
    /// at any point.
    func proceed(
        journal initial: RestoreJournal, folders: NodeFolders, dynomite: DynomiteService?, skipSafetySave: Bool,
        steps initialSteps: [(String, Duration)], source: RestoreSource, notes initialNotes: [String]
    ) async throws -> Report {
        // The commands this restore runs are recorded, so that one left running if it is killed can be stopped.
        let tracker = CommandTracker(folders)
        return try await ChildProcess.$observer.withValue(tracker) {
            try await run(journal: initial, folders: folders, dynomite: dynomite, skipSafetySave: skipSafetySave, steps: initialSteps, source: source, notes: initialNotes)
        }
    }

    private func run(
        journal initial: RestoreJournal, folders: NodeFolders, dynomite: DynomiteService?, skipSafetySave: Bool,
        steps initialSteps: [(String, Duration)], source: RestoreSource, notes initialNotes: [String]
    ) async throws -> Report {
        var journal = initial
        var steps = initialSteps
        var notes = initialNotes
        let redis = redisService
        let directory = journal.directory
        let clock = ContinuousClock()
        var step = "stop Dynomite" {
            didSet { progress?.step(step) }
        }
        progress?.step(step)
        do {
            if journal.phase == .prepared {
                var start = clock.now
                let running = await redis.presence()
                if case .up(let runID?) = running, !journal.stoppedRedisRunIDs.contains(runID) {
                    journal.stoppedRedisRunIDs.append(runID)
                    try await journal.save(folders)
                }
                if let dynomite, await dynomite.isUp() {
                    logger.info("stopping Dynomite")
                    journal.stoppedDynomite = true
                    try await journal.save(folders)
                    try await dynomite.stop()
                    steps.append(("stop Dynomite", clock.now - start))
                }
                if running != .down {
                    if !skipSafetySave {
                        step = "safety save (BGSAVE)"
                        start = clock.now
                        logger.info("asking Redis to save its current data before it stops")
                        _ = try await connector.withConnection {
                            try await RedisPersistence(redis: $0, dataDirectory: directory, logger: logger).save()
                        }
                        steps.append(("safety save", clock.now - start))
                    }
                    step = "stop Redis"
                    start = clock.now
                    logger.info("stopping Redis without saving")
                    try await redis.stop()
                    steps.append(("stop Redis", clock.now - start))
                }
                journal.phase = .stopped
                try await journal.save(folders)
            }
            if journal.phase == .stopped {
                step = "set the current data aside"
                let start = clock.now
                try await redis.ensureDown(before: "set the current data aside")
                try await LocalFileSystem.makeFolders(journal.previous)
                for path in journal.plan.layout.dataPaths where LocalFileSystem.exists(directory + "/" + path) {
                    guard !LocalFileSystem.exists(journal.previous + "/" + path) else {
                        throw SnapshotError(
                            "\(path) is in the data folder although it was set aside into \(journal.previous): something (a Redis that started again?) created it meanwhile")
                    }
                    if !journal.setAside.contains(path) {
                        journal.setAside.append(path)
                        try await journal.save(folders)
                    }
                    try await LocalFileSystem.rename(directory + "/" + path, to: journal.previous + "/" + path)
                }
                journal.phase = .setAside
                try await journal.save(folders)
                steps.append(("set aside", clock.now - start))
            }
            if journal.phase == .setAside {
                step = "put the new files in place"
                let start = clock.now
                try await redis.ensureDown(before: "put the restored files in place")
                for placement in journal.plan.placements {
                    try await place(placement.target, journal: &journal, folders: folders)
                }
                try await LocalFileSystem.syncFolder(directory)
                journal.phase = .placed
                try await journal.save(folders)
                steps.append(("put in place", clock.now - start))
            }
            if journal.phase == .placed {
                step = "start Redis"
                let start = clock.now
                logger.info("starting Redis on the restored data")
                try await redis.start(excluding: journal.stoppedRedisRunIDs)
                journal.phase = .started
                try await journal.save(folders)
                steps.append(("start Redis and load", clock.now - start))
            }
            if journal.phase == .started {
                step = "check the restored data"
                var start = clock.now
                notes += try await verify(journal)
                steps.append(("check key counts", clock.now - start))
                if journal.stoppedDynomite, let dynomite, !(await dynomite.isUp()) {
                    step = "start Dynomite"
                    start = clock.now
                    logger.info("starting Dynomite")
                    try await dynomite.start()
                    steps.append(("start Dynomite", clock.now - start))
                }
                // From here on the restore has succeeded: a crash while the set-aside files are removed must not
                // lead to a rollback onto half-removed previous data.
                journal.phase = .committed
                try await journal.save(folders)
            }
        } catch {
            logger.error("restore failed at \(step): \(error); rolling back")
            journal.lastError = "\(step): \(error)"
            try? await journal.save(folders)
            let outcome: String
            do {
                outcome = try await undo(journal, folders: folders, dynomite: dynomite)
            } catch let rollbackError {
                throw Self.rollbackFailure(rollbackError, folders: folders, fallback: journal, restoreError: "restore failed at \(step): \(error)")
            }
            throw SnapshotError("restore failed at \(step): \(error). \(outcome)")
        }
        let start = clock.now
        try await LocalFileSystem.remove(journal.work)
        try await RestoreJournal.remove(folders)
        steps.append(("remove the set-aside files", clock.now - start))
        logger.info("restore of snapshot \(journal.snapshot) complete")
        return Report(source: source, plan: journal.plan, steps: steps, notes: notes, dryRun: false)
    }

    /// Moves one fetched file into the data folder, with the owner, group and mode of what it replaces.
    private func place(_ target: String, journal: inout RestoreJournal, folders: NodeFolders) async throws {
        let directory = journal.directory
        let incoming = journal.incoming + "/" + target
        let destination = directory + "/" + target
        guard LocalFileSystem.exists(incoming) else {
            // Already moved by the run that was interrupted.
            guard journal.placed.contains(target), LocalFileSystem.exists(destination) else {
                throw SnapshotError("\(target) is neither fetched (\(journal.incoming)) nor in place")
            }
            return
        }
        guard !LocalFileSystem.exists(destination) else {
            throw SnapshotError(
                "\(target) appeared in the data folder after the current data was set aside (a Redis that started again?); refusing to replace it")
        }
        // Missing folders (the AOF folder of a Redis that had none) are created like the data folder.
        var folder = ""
        for part in target.split(separator: "/").dropLast() {
            folder += (folder.isEmpty ? "" : "/") + part
            if !LocalFileSystem.exists(directory + "/" + folder) {
                if !journal.createdFolders.contains(folder) {
                    journal.createdFolders.append(folder)
                    try await journal.save(folders)
                }
                try await LocalFileSystem.makeFolders(directory + "/" + folder)
                warnIfNotApplied(ownership(for: folder, journal: journal).apply(to: directory + "/" + folder))
            }
        }
        warnIfNotApplied(ownership(for: target, journal: journal).apply(to: incoming))
        if !journal.placed.contains(target) {
            journal.placed.append(target)
            try await journal.save(folders)
        }
        try await LocalFileSystem.rename(incoming, to: destination)
    }

    private func warnIfNotApplied(_ problem: String?) {
        if let problem { logger.warning("could not give Redis's owner, group or mode to \(problem)") }
    }

    /// What a restored path takes its owner, group and mode from: the file it replaces, else the nearest folder
    /// it replaces, else Redis's RDB file, else the data folder.
    func ownership(for target: String, journal: RestoreJournal) -> FileOwnership {
        var path = target
        while !path.isEmpty {
            let replaced = journal.previous + "/" + path
            if let found = FileOwnership.of(replaced) {
                // A file in a replaced folder goes by a file Redis had there (the AOF's other parts).
                if found.fromFolder && path != target,
                    let sibling = (try? FileManager.default.contentsOfDirectory(atPath: replaced))?.sorted().lazy
                        .compactMap({ FileOwnership.of(replaced + "/" + $0) }).first(where: { !$0.fromFolder })
                {
                    return sibling
                }
                return found
            }
            path = (path as NSString).deletingLastPathComponent
        }
        if let rdb = FileOwnership.of(journal.previous + "/" + journal.plan.layout.dbFilename) {
            return rdb
        }
        return FileOwnership.of(journal.directory)
            ?? FileOwnership(owner: geteuid(), group: getegid(), mode: 0o750, fromFolder: true)
    }

    /// Compares the loaded key counts with the manifest's. Missing keys may only be keys that had a TTL (and
    /// expired since the backup); anything more means Redis did not load what was put in place, and the restore
    /// fails (and rolls back). More keys than the snapshot had is a failure when its counts were exact.
    func verify(_ journal: RestoreJournal) async throws -> [String] {
        try await connector.withConnection { try await verify(journal, on: $0) }
    }

    private func verify(_ journal: RestoreJournal, on connection: RedisConnection) async throws -> [String] {
        let layout = journal.plan.layout
        // Redis must run with the layout the files were placed for (a redis.start, or an included configuration
        // file, that turns the AOF off would leave it empty, or on other files).
        let running = try await RedisLayout.read(from: connection, dataDirectory: configuration.redis.dataDir)
        var differences: [String] = []
        if running.appendOnly != layout.appendOnly { differences.append("appendonly \(running.appendOnly ? "yes" : "no")") }
        if running.dbFilename != layout.dbFilename { differences.append("dbfilename \(running.dbFilename)") }
        if configuration.redis.dataDir == nil, RestoreTarget.realPath(running.directory) != RestoreTarget.realPath(layout.directory) {
            differences.append("dir \(running.directory)")
        }
        guard differences.isEmpty else {
            throw SnapshotError(
                "Redis started with \(differences.joined(separator: ", ")), but the restored files were placed for appendonly \(layout.appendOnly ? "yes" : "no"), dbfilename \(layout.dbFilename) in \(layout.directory): check redis.start and Redis's configuration files")
        }
        guard let expected = journal.keyspace else { return ["no key counts to check against (Dynomite-manager snapshot)"] }
        let loaded = try await connection.info("keyspace").keyspace
        var notes: [String] = []
        for database in Set(expected.keys.compactMap { Int($0.dropFirst(2)) }).union(loaded.keys).sorted() {
            let want = expected["db\(database)"] ?? .init(keys: 0, expires: 0)
            let have = loaded[database]?.keys ?? 0
            if have == want.keys { continue }
            if have < want.keys {
                let missing = want.keys - have
                guard missing <= want.expires else {
                    throw SnapshotError(
                        "db\(database) holds \(have) keys after loading, the snapshot had \(want.keys) of which \(want.expires) had a TTL: \(missing - want.expires) keys are missing that cannot have expired. Redis did not load the restored files: check that redis.start starts it with dir \(layout.directory), dbfilename \(layout.dbFilename) and appendonly \(layout.appendOnly ? "yes" : "no")")
                }
                notes.append("db\(database): \(have) keys of \(want.keys) (\(missing) had a TTL and expired since the backup)")
            } else if journal.keyspaceExact {
                throw SnapshotError("db\(database) holds \(have) keys after loading, the snapshot had \(want.keys)")
            } else {
                notes.append("db\(database): \(have) keys, the snapshot counted about \(want.keys) (approximate count)")
            }
        }
        return notes
    }
}
