import DynokeeperConfiguration
import Foundation
import Logging
import NodeControl
import ObjectStorage
import RedisClient
import Synchronization

/// The phases of a restore from the moment the node is touched, as a state machine over the journal's phase:
///
///     prepared ─stopNode→ stopped ─setDataAside→ setAside ─placeFiles→ placed ─startRedis→ started
///         ─checkAndStartDynomite→ committed ─removeSetAside→ (done: journal removed)
///
/// An online restore (``RestoreJournal/online``) keeps Redis running: `stopNode` stops Dynomite only,
/// `setDataAside` links the files into `previous/` rather than moving them, and `loadOnline` takes it from
/// `setAside` to `started`.
///
/// Each transition is one function; the journal is saved after each, so that a run killed at any point is found
/// again and resumed from the phase it reached (every function also checks the file system, so that it can run
/// again after a crash part-way through). A failure rolls back (``NodeRestore/undo(_:folders:dynomite:)``).
struct RestoreMachine {
    let restore: NodeRestore
    let folders: NodeFolders
    let dynomite: DynomiteService?
    let skipSafetySave: Bool
    private(set) var journal: RestoreJournal
    /// Each step done and how long it took.
    private(set) var steps: [(name: String, duration: Duration)]
    private(set) var notes: [String]
    /// What is under way, for the progress and for the message of a failure.
    private var step: String {
        didSet { restore.progress?.step(step) }
    }
    private let clock = ContinuousClock()

    init(
        restore: NodeRestore, journal: RestoreJournal, folders: NodeFolders, dynomite: DynomiteService?,
        skipSafetySave: Bool, steps: [(name: String, duration: Duration)], notes: [String]
    ) {
        self.restore = restore
        self.journal = journal
        self.folders = folders
        self.dynomite = dynomite
        self.skipSafetySave = skipSafetySave
        self.steps = steps
        self.notes = notes
        self.step = "stop Dynomite"
    }

    var logger: Logger { restore.logger }
    var redis: RedisService { restore.redisService }
    var directory: String { journal.directory }

    /// Runs the transitions from the journal's phase to the end; rolls back on failure.
    mutating func run() async throws {
        // Only a fetched snapshot goes on, and only a committed one is cleaned up: the clean-up removes
        // `previous/`, the node's old data, which a journal in any other phase still needs.
        guard journal.phase >= .prepared, journal.phase != .rollingBack else {
            throw DynokeeperError(
                .unfinishedRestore,
                "the restore of snapshot \(journal.snapshot) is at step \(journal.phase.rawValue), from which it cannot go on; run `dynokeeper restore --rollback`"
            )
        }
        do {
            while let transition = Self.transition(from: journal.phase) {
                journal.phase = try await transition(&self)
                try await journal.save(folders)
            }
        } catch {
            logger.error("restore failed at \(step): \(error); rolling back")
            journal.lastError = "\(step): \(error)"
            try? await journal.save(folders)
            let outcome: String
            do {
                outcome = try await restore.undo(journal, folders: folders, dynomite: dynomite)
            } catch let rollbackError {
                throw NodeRestore.rollbackFailure(
                    rollbackError, folders: folders, fallback: journal,
                    restoreError: "restore failed at \(step): \(NodeRestore.clause(error))")
            }
            throw DynokeeperError.snapshot("restore failed at \(step): \(NodeRestore.clause(error)). \(outcome)")
        }
        try await timed("remove the set-aside files", recorded: "remove the set-aside files") { machine in
            try await LocalFileSystem.remove(machine.journal.work)
            try await RestoreJournal.remove(machine.folders)
        }
        logger.info("restore of snapshot \(journal.snapshot) complete")
    }

    /// The function that leaves a phase and the phase it leads to; `nil` once the restore is committed.
    private static func transition(
        from phase: RestoreJournal.Phase
    ) -> ((inout RestoreMachine) async throws -> RestoreJournal.Phase)? {
        switch phase {
        case .prepared: { try await $0.stopNode() }
        case .stopped: { try await $0.setDataAside() }
        case .setAside: { $0.journal.online == nil ? try await $0.placeFiles() : try await $0.loadOnline() }
        case .placed: { try await $0.startRedis() }
        case .started: { try await $0.checkAndStartDynomite() }
        // `downloading` ends in NodeRestore.run, `rolling_back` in a rollback: `run` refuses both before this.
        case .committed, .downloading, .rollingBack: nil
        }
    }

    /// Runs a step: names it for the progress and for a failure, and records its duration.
    private mutating func timed(
        _ name: String, recorded: String, _ body: (inout RestoreMachine) async throws -> Void
    ) async throws {
        step = name
        let start = clock.now
        try await body(&self)
        steps.append((recorded, clock.now - start))
    }

    // MARK: Transitions

    /// Stops Dynomite (when it runs), has Redis save its latest data, and stops Redis without saving.
    private mutating func stopNode() async throws -> RestoreJournal.Phase {
        step = "stop Dynomite"
        let start = clock.now
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
        guard running != .down else { return .stopped }
        if !skipSafetySave {
            try await timed("safety save (BGSAVE)", recorded: "safety save") { machine in
                machine.logger.info("asking Redis to save its current data before it stops")
                let (directory, logger) = (machine.directory, machine.logger)
                _ = try await machine.restore.connector.withConnection { connection in
                    try await RedisPersistence(redis: connection, dataDirectory: directory, logger: logger).save()
                }
            }
        }
        guard journal.online == nil else { return .stopped }
        try await timed("stop Redis", recorded: "stop Redis") { machine in
            machine.logger.info("stopping Redis without saving")
            try await machine.redis.stop()
        }
        return .stopped
    }

    /// Moves the node's data files into `previous/`, each recorded before it moves; for an online restore, links
    /// them there (Redis keeps running on them).
    private mutating func setDataAside() async throws -> RestoreJournal.Phase {
        if journal.online != nil { return try await linkDataAside() }
        try await timed("set the current data aside", recorded: "set aside") { machine in
            try await machine.redis.ensureDown(before: "set the current data aside")
            let (directory, previous) = (machine.directory, machine.journal.previous)
            try await LocalFileSystem.makeFolders(previous)
            for path in machine.journal.plan.layout.dataPaths where LocalFileSystem.exists(directory + "/" + path) {
                guard !LocalFileSystem.exists(previous + "/" + path) else {
                    throw DynokeeperError.snapshot(
                        "\(path) is in the data folder although it was set aside into \(previous): something (a Redis that started again?) created it meanwhile"
                    )
                }
                if !machine.journal.setAside.contains(path) {
                    machine.journal.setAside.append(path)
                    try await machine.journal.save(machine.folders)
                }
                try await LocalFileSystem.rename(directory + "/" + path, to: previous + "/" + path)
            }
        }
        return .setAside
    }

    /// Keeps the node's files as they are now under `previous/` (hard links): Redis rewrites its files once it has
    /// loaded the new data, and a rollback then needs them.
    private mutating func linkDataAside() async throws -> RestoreJournal.Phase {
        try await timed("keep the current files (hard links)", recorded: "set aside") { machine in
            let (directory, previous) = (machine.directory, machine.journal.previous)
            try await LocalFileSystem.remove(previous)
            try await LocalFileSystem.makeFolders(previous)
            for path in machine.journal.plan.layout.dataPaths where LocalFileSystem.exists(directory + "/" + path) {
                if !machine.journal.setAside.contains(path) {
                    machine.journal.setAside.append(path)
                    try await machine.journal.save(machine.folders)
                }
                try await LocalFileSystem.linkTree(directory + "/" + path, to: previous + "/" + path)
            }
            try await LocalFileSystem.syncFolder(previous)
        }
        return .setAside
    }

    /// Has the running Redis load the snapshot's RDB while it downloads (``OnlineLoad``).
    private mutating func loadOnline() async throws -> RestoreJournal.Phase {
        try await timed("load the data into Redis as it downloads", recorded: "download and load") { machine in
            guard let file = machine.journal.plan.placements.compactMap(\.source).first,
                let settings = machine.journal.online?.settings
            else { throw DynokeeperError.snapshot("the restore journal names no file to load") }
            var marked = machine.journal
            marked.online?.lastBytesSent = true
            let (folders, final) = (machine.folders, marked)
            // Set before the journal says so, and kept whatever fails after: from the last bytes on, only the files
            // in previous/ are sure to hold the node's previous data, and a rollback must use them.
            let sent = Mutex(false)
            // A copy for Redis's RDB file, unless Redis keeps an AOF (which it rewrites on its own after the load).
            let layout = machine.journal.plan.layout
            let copy = layout.appendOnly ? nil : machine.journal.incoming + "/" + layout.dbFilename
            do {
                let replay = machine.journal.pointInTime.map {
                    machine.restore.streamReplay($0, journal: machine.journal)
                }
                let runID = try await machine.restore.onlineLoad.run(
                    file, settings: settings, copy: replay == nil ? copy : nil, continuation: replay?.continuation
                ) {
                    sent.withLock { $0 = true }
                    var journal = final
                    try await journal.save(folders)
                }
                machine.journal.online?.lastBytesSent = true
                machine.journal.online?.loadedRunID = runID
                if let replay, let state = machine.journal.pointInTime {
                    machine.journal.pointInTime?.replayed = true
                    machine.notes.append(Self.replayed(replay, state))
                }
            } catch {
                if sent.withLock({ $0 }) { machine.journal.online?.lastBytesSent = true }
                throw error
            }
        }
        return .started
    }

    /// Moves the fetched files into the data folder.
    private mutating func placeFiles() async throws -> RestoreJournal.Phase {
        try await timed("put the new files in place", recorded: "put in place") { machine in
            try await machine.redis.ensureDown(before: "put the restored files in place")
            for placement in machine.journal.plan.placements {
                try await machine.restore.place(placement.target, journal: &machine.journal, folders: machine.folders)
            }
            try await LocalFileSystem.syncFolder(machine.directory)
        }
        return .placed
    }

    /// Starts Redis and waits until a new Redis process has loaded the restored data.
    private mutating func startRedis() async throws -> RestoreJournal.Phase {
        try await timed("start Redis", recorded: "start Redis and load") { machine in
            machine.logger.info("starting Redis on the restored data")
            try await machine.redis.start(excluding: machine.journal.stoppedRedisRunIDs)
        }
        return .started
    }

    /// Applies the archived commands after the base, up to the moment asked for: Redis loads the base again over
    /// the replication link, as a replica, with the commands after it (see ``StreamReplay``). The whole data set is
    /// replaced each time, so a replay that was interrupted is simply done again.
    private mutating func replayArchive(_ state: RestoreJournal.PointInTimeState) async throws {
        try await timed("replay the archived commands", recorded: "replay the archived stream") { machine in
            guard LocalFileSystem.exists(machine.journal.replayBase) else {
                throw DynokeeperError.snapshot("the base to replay onto, \(machine.journal.replayBase), is gone")
            }
            let replay = machine.restore.streamReplay(state, journal: machine.journal)
            let settings: [String: String]
            if let saved = machine.journal.pointInTime?.settings {
                // A replay that was interrupted: Redis may still be a replica of the feed that is gone.
                settings = saved
                try await machine.restore.connector.withConnection { try await OnlineLoad.detach($0, settings: saved) }
            } else {
                settings = try await machine.restore.connector.withConnection {
                    try await NodeRestore.checkReplay($0, touched: true)
                }
                machine.journal.pointInTime?.settings = settings
                try await machine.journal.save(machine.folders)
            }
            _ = try await machine.restore.onlineLoad.run(
                rdb: machine.journal.replayBase, settings: settings, continuation: replay.continuation)
            machine.journal.pointInTime?.replayed = true
            try await machine.journal.save(machine.folders)
            machine.notes.append(Self.replayed(replay, state))
        }
    }

    static func replayed(_ replay: StreamReplay, _ state: RestoreJournal.PointInTimeState) -> String {
        "replayed \(replay.outcome.commands) archived command(s) (\(replay.outcome.bytes) bytes) after snapshot \(state.plan.base), up to \(PointInTimeArchive.format(state.plan.target))"
    }

    /// Checks the loaded data against the manifest and starts Dynomite again. After this the restore has
    /// succeeded: a crash while the set-aside files are removed must not lead to a rollback onto half-removed
    /// previous data.
    private mutating func checkAndStartDynomite() async throws -> RestoreJournal.Phase {
        try await timed("check the restored data", recorded: "check key counts") { machine in
            if let loaded = machine.journal.online?.loadedRunID {
                // A Redis that restarted since it loaded the snapshot came back on its previous files.
                let running = try await machine.restore.connector.withConnection { try await $0.info("server") }
                guard running["run_id"] == loaded else {
                    throw DynokeeperError.snapshot(
                        "Redis restarted after it loaded the snapshot (run_id \(running["run_id"] ?? "?"), was \(loaded)): it no longer holds the restored data"
                    )
                }
            }
            // The base's counts, before the archived commands change them (once a replay has begun, Redis may hold
            // them already; the replay checks its own counts).
            if machine.journal.pointInTime?.settings == nil {
                machine.notes += try await machine.restore.verify(machine.journal)
            }
        }
        if let state = journal.pointInTime, !state.replayed {
            try await replayArchive(state)
        }
        if journal.pointInTime != nil && !journal.plan.layout.appendOnly {
            // Redis holds the replayed commands in memory only: on disk before Dynomite sends writes again (an AOF
            // is the one Redis rewrites on its own after a load, below).
            try await timed("save the replayed data (BGSAVE)", recorded: "save the replayed data") { machine in
                let (directory, logger) = (machine.directory, machine.logger)
                _ = try await machine.restore.connector.withConnection { connection in
                    try await RedisPersistence(redis: connection, dataDirectory: directory, logger: logger).save()
                }
            }
        } else if journal.online != nil || journal.pointInTime != nil {
            // The new data is in Redis's memory only: on disk before Dynomite sends writes again, so that a Redis
            // that restarts does not come back with the previous data. The RDB file is the copy made during the
            // load (what Redis loaded); an AOF is the one Redis rewrites on its own after a load.
            try await timed("put the restored data on disk", recorded: "put the restored data on disk") { machine in
                let layout = machine.journal.plan.layout
                if layout.appendOnly {
                    let (directory, logger) = (machine.directory, machine.logger)
                    try await machine.restore.connector.withConnection { connection in
                        try await RedisPersistence(redis: connection, dataDirectory: directory, logger: logger)
                            .waitForAOFRewrite()
                    }
                } else {
                    try await machine.restore.place(
                        layout.dbFilename, journal: &machine.journal, folders: machine.folders, replacing: true)
                    try await LocalFileSystem.syncFolder(machine.directory)
                }
            }
        }
        if journal.stoppedDynomite, let dynomite, !(await dynomite.isUp()) {
            try await timed("start Dynomite", recorded: "start Dynomite") { machine in
                machine.logger.info("starting Dynomite")
                try await dynomite.start()
            }
        }
        return .committed
    }
}
