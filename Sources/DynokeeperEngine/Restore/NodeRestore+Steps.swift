import DynokeeperConfiguration
import Foundation
import Logging
import NodeControl
import ObjectStorage
import RedisClient

extension NodeRestore {
    /// The steps from stopping the node on (see ``RestoreMachine``), run with the commands they start recorded, so
    /// that one left running if the restore is killed can be stopped.
    func proceed(
        journal: RestoreJournal, folders: NodeFolders, dynomite: DynomiteService?, skipSafetySave: Bool,
        steps: [(name: String, duration: Duration)], source: RestoreSource, notes: [String]
    ) async throws -> Report {
        var machine = RestoreMachine(
            restore: self, journal: journal, folders: folders, dynomite: dynomite, skipSafetySave: skipSafetySave,
            steps: steps, notes: notes)
        try await ChildProcess.$observer.withValue(CommandTracker(folders)) { try await machine.run() }
        return Report(
            source: source, plan: machine.journal.plan, steps: machine.steps, notes: machine.notes, dryRun: false)
    }

    /// Moves one fetched file into the data folder, with the owner, group and mode of what it replaces.
    /// - Parameter replacing: Whether the target may be there (an online restore, whose `previous/` holds a link to
    ///   it); otherwise it must not.
    func place(
        _ target: String, journal: inout RestoreJournal, folders: NodeFolders, replacing: Bool = false
    ) async throws {
        let directory = journal.directory
        let incoming = journal.incoming + "/" + target
        let destination = directory + "/" + target
        guard LocalFileSystem.exists(incoming) else {
            // Already moved by the run that was interrupted.
            guard journal.placed.contains(target), LocalFileSystem.exists(destination) else {
                throw DynokeeperError.snapshot("\(target) is neither fetched (\(journal.incoming)) nor in place")
            }
            return
        }
        guard replacing || !LocalFileSystem.exists(destination) else {
            throw DynokeeperError.snapshot(
                "\(target) appeared in the data folder after the current data was set aside (a Redis that started again?); refusing to replace it"
            )
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
        if running.appendOnly != layout.appendOnly {
            differences.append("appendonly \(running.appendOnly ? "yes" : "no")")
        }
        if running.dbFilename != layout.dbFilename { differences.append("dbfilename \(running.dbFilename)") }
        if configuration.redis.dataDir == nil,
            RestoreTarget.realPath(running.directory) != RestoreTarget.realPath(layout.directory)
        {
            differences.append("dir \(running.directory)")
        }
        guard differences.isEmpty else {
            throw DynokeeperError.snapshot(
                "Redis started with \(differences.joined(separator: ", ")), but the restored files were placed for appendonly \(layout.appendOnly ? "yes" : "no"), dbfilename \(layout.dbFilename) in \(layout.directory): check redis.start and Redis's configuration files"
            )
        }
        guard let expected = journal.keyspace else {
            return ["no key counts to check against (Dynomite-manager snapshot)"]
        }
        let loaded = try await connection.info("keyspace").keyspace
        var notes: [String] = []
        for database in Set(expected.keys.compactMap { Int($0.dropFirst(2)) }).union(loaded.keys).sorted() {
            let want = expected["db\(database)"] ?? .init(keys: 0, expires: 0)
            let have = loaded[database]?.keys ?? 0
            if have == want.keys { continue }
            if have < want.keys {
                let missing = want.keys - have
                guard missing <= want.expires else {
                    throw DynokeeperError.snapshot(
                        "db\(database) holds \(have) keys after loading, the snapshot had \(want.keys) of which \(want.expires) had a TTL: \(missing - want.expires) keys are missing that cannot have expired. Redis did not load the restored files: check that redis.start starts it with dir \(layout.directory), dbfilename \(layout.dbFilename) and appendonly \(layout.appendOnly ? "yes" : "no")"
                    )
                }
                notes.append(
                    "db\(database): \(have) keys of \(want.keys) (\(missing) had a TTL and expired since the backup)")
            } else if journal.keyspaceExact {
                throw DynokeeperError.snapshot(
                    "db\(database) holds \(have) keys after loading, the snapshot had \(want.keys)")
            } else {
                notes.append("db\(database): \(have) keys, the snapshot counted about \(want.keys) (approximate count)")
            }
        }
        return notes
    }
}
