package import DynokeeperConfiguration
package import Foundation
package import Logging
import NodeControl
package import ObjectStorage
import RedisClient

/// Replaces a node's data with a snapshot: fetch and verify while the node serves, stop Dynomite, have Redis
/// save, stop Redis without saving, set the current files aside, put the new ones in place, start Redis and
/// wait for its data, check the key counts, start Dynomite, remove the set-aside files.
///
/// Everything that can be checked without touching the node is checked first (the snapshot's files, sizes and
/// RDB format, the free space, how Redis is configured and supervised). Any failure after the node was touched
/// puts the previous data back and starts the processes as they were; the error then says what failed and the
/// state the node is in. Every step is recorded in a journal in the state folder, under the node lock, so that a
/// restore that was killed is found again and can be finished (`resume`) or undone (`rollback`).
package struct NodeRestore: Sendable {
    package struct Options: Sendable {
        package var request: SnapshotSelector.Request
        /// Describe the restore without changing anything.
        package var dryRun = false
        /// Skip the BGSAVE that makes the set-aside files hold Redis's latest data.
        package var skipSafetySave = false
        /// Restore even a snapshot whose RDB format the node's Redis is older than.
        package var force = false
        /// Bring the node to its state at this moment: a base snapshot, then the archived commands up to it.
        package var toTime: Date?

        package init(request: SnapshotSelector.Request) { self.request = request }
    }

    /// What a restore did, or would do (dry run).
    package struct Report: Sendable {
        package var source: RestoreSource
        package var plan: RestorePlan
        /// Each step with its duration (planned steps with zero durations on a dry run).
        package var steps: [(name: String, duration: Duration)]
        /// Messages about the checks and the loaded data (such as keys that expired since the backup).
        package var notes: [String]
        package var dryRun: Bool
    }

    package let configuration: DynokeeperConfiguration
    package let node: NodeSettings
    package let connector: RedisConnector
    package let store: any ObjectStore
    package let logger: Logger
    package let progress: (any ProgressReporter)?
    /// How long Redis may take to load the data of an online restore once it has every byte (an hour by default).
    package var onlineLoadTimeout: Duration = .seconds(3600)

    package init(
        configuration: DynokeeperConfiguration, node: NodeSettings, connector: RedisConnector, store: any ObjectStore,
        logger: Logger, progress: (any ProgressReporter)? = nil
    ) {
        self.configuration = configuration
        self.node = node
        self.connector = connector
        self.store = store
        self.logger = logger
        self.progress = progress
    }

    /// The same restore, reporting its progress to `progress`.
    package func with(progress: (any ProgressReporter)?) -> NodeRestore {
        var restore = NodeRestore(
            configuration: configuration, node: node, connector: connector, store: store, logger: logger,
            progress: progress)
        restore.onlineLoadTimeout = onlineLoadTimeout
        return restore
    }

    var downloader: SnapshotDownloader {
        SnapshotDownloader(
            store: store, keys: SnapshotKeyring(configuration.encryption), logger: logger, progress: progress)
    }

    var redisService: RedisService { RedisService.make(configuration, connector: connector, logger: logger) }

    var onlineLoad: OnlineLoad {
        OnlineLoad(
            connector: connector, downloader: downloader,
            logger: logger, loadTimeout: onlineLoadTimeout)
    }

    /// Refuses unless restores are enabled: the one check the CLI, the API, Dynomite-manager's paths and ring
    /// restores share.
    /// - Throws: `restores_disabled`.
    /// - Parameter ring: For a ring restore, which needs restores enabled on every node.
    package static func checkEnabled(
        _ configuration: DynokeeperConfiguration, ring: Bool = false
    ) throws(DynokeeperError) {
        guard configuration.restore.enabled else {
            throw DynokeeperError(
                .restoresDisabled,
                "restores are disabled: set restore.enabled: true (or dynomitemanager.dyno.backup.restore.enabled=true) to allow them\(ring ? " on every node of the ring" : "")"
            )
        }
    }

    /// What a restore needs of the configuration, in the order the CLI and the API report it: restores enabled,
    /// Dynomite's commands when the node runs Dynomite, `redis.start`, and where the data is.
    /// - Parameter recovery: For a resume, whose journal says where the data is (``NodeFolders/forRecovery(_:)``).
    /// - Returns: The node's folders and its Dynomite, if any.
    package func checkConfiguration(recovery: Bool = false) throws -> (NodeFolders, DynomiteService?) {
        try Self.checkEnabled(configuration)
        let dynomite = try DynomiteService.make(configuration, node: node)
        guard configuration.redis.start != nil else {
            throw ConfigurationError(
                "restores stop Redis and start it again: set redis.start (the command that starts Redis)")
        }
        return (try recovery ? NodeFolders.forRecovery(configuration) : NodeFolders.forRestore(configuration), dynomite)
    }

    /// Takes the node lock for a restore, resume or rollback (the daemon takes it before it answers, so that a
    /// busy node gets 409 at once).
    package func acquireLock(_ operation: String, recovery: Bool = false) throws -> NodeLock {
        try NodeLock.acquire(
            recovery ? NodeFolders.forRecovery(configuration) : NodeFolders.forRestore(configuration),
            operation: operation)
    }

    // MARK: Restore

    /// - Parameter lock: The node lock, when the caller took it already; taken here otherwise.
    package func run(_ options: Options, holding lock: NodeLock? = nil) async throws -> Report {
        var options = options
        let (folders, dynomite) = try checkConfiguration()
        let held = try lock ?? (options.dryRun ? nil : NodeLock.acquire(folders, operation: "restore"))
        defer { held?.release() }
        if held != nil { CommandTracker(folders).stopLeftover(logger: logger) }
        if let journal = try RestoreJournal.load(folders) {
            guard held != nil,
                try await NodeGuard(configuration: configuration, connector: connector, logger: logger)
                    .discardIfUntouched(journal, folders: folders)
            else {
                throw UnfinishedRestoreError(journal: journal, journalPath: folders.journal)
            }
        }
        // A point-in-time restore is refused here, before anything is fetched, when the archive does not reach the
        // moment; its base is then the snapshot to restore.
        var pointInTime: PointInTimeArchive.Plan?
        if let target = options.toTime { pointInTime = try await planPointInTime(to: target, options: &options) }
        let source = try await SnapshotSelector(store: store, logger: logger).select(options.request)
        let target = try await RestoreTarget.inspect(configuration, connector: connector, folders: folders)
        let plan = try RestorePlan.make(source, into: target.layout)
        let online = configuration.restore.method == .online ? try await checkOnline(source, target: target) : nil
        var notes = target.notes
        notes += try await preflight(source: source, plan: plan, target: target, options: options)
        if let pointInTime {
            notes.append(Self.describe(pointInTime))
            // The replay makes Redis a replica of dynokeeper for a while: what that needs is checked now, before the
            // node is touched (when Redis is down, once it runs again).
            if online == nil && target.up {
                _ = try await connector.withConnection { try await Self.checkReplay($0) }
            }
        }
        logger.info(
            "restoring snapshot \(source.id) of \(source.node.cluster) \(source.node) (\(source.type.rawValue), \(source.format.rawValue) format, \(source.size) bytes) into \(plan.layout.directory)"
        )
        if options.dryRun {
            return Report(
                source: source, plan: plan,
                steps: plannedSteps(plan, folders: folders, dynomite: dynomite, options: options).map { ($0, .zero) },
                notes: notes, dryRun: true)
        }

        var journal = RestoreJournal(
            phase: .downloading, snapshot: source.id.text, sourceNode: source.node, type: source.type, plan: plan,
            work: folders.work,
            keyspace: source.manifest?.keyspace.mapValues { .init(keys: $0.keys, expires: $0.expires) },
            keyspaceExact: source.manifest?.keyspaceExact ?? false, startedAt: Date(), pid: getpid())
        journal.skipSafetySave = options.skipSafetySave
        journal.online = online
        journal.pointInTime = pointInTime.map { RestoreJournal.PointInTimeState(plan: $0) }
        // An online load applies the archived commands with the base: the base's key counts no longer apply.
        if pointInTime != nil && online != nil { journal.keyspace = nil }
        let clock = ContinuousClock()
        if online != nil {
            // Nothing to fetch beforehand: the data goes to Redis as it downloads, checked on the way.
            try Self.checkNoOrphanedData(journal)
            try await Self.makeWorkFolder(journal, folders: folders)
            if let pointInTime {
                do { try await fetchSegments(pointInTime, journal: journal) } catch {
                    try? await Self.removeWorkFolder(journal)
                    throw error
                }
            }
            journal.phase = .prepared
            try await journal.save(folders)
            return try await proceed(
                journal: journal, folders: folders, dynomite: dynomite, skipSafetySave: options.skipSafetySave,
                steps: [], source: source, notes: notes)
        }
        let start = clock.now
        progress?.step("fetch and verify")
        // Set-aside data without a journal (a state folder that moved, a journal deleted by hand) is the only copy
        // of a node's data: refused before anything is created or removed.
        try Self.checkNoOrphanedData(journal)
        do {
            try await Self.makeWorkFolder(journal, folders: folders)
            try await journal.save(folders)
            try await fetch(plan, into: journal.incoming)
            try checkFetchedFormat(plan, incoming: journal.incoming, target: target, force: options.force)
            if let pointInTime { try await fetchSegments(pointInTime, journal: journal) }
        } catch {
            // Nothing was touched: drop what was fetched (never previous/, which the check above found empty).
            try? await LocalFileSystem.remove(journal.incoming)
            try? await Self.removeWorkFolder(journal)
            try? await RestoreJournal.remove(folders)
            throw error
        }
        journal.phase = .prepared
        try await journal.save(folders)
        return try await proceed(
            journal: journal, folders: folders, dynomite: dynomite, skipSafetySave: options.skipSafetySave,
            steps: [("fetch and verify", clock.now - start)], source: source, notes: notes)
    }

    /// Refuses an online restore that cannot work, before anything is touched; returns its journal entry.
    func checkOnline(_ source: RestoreSource, target: RestoreTarget) async throws -> RestoreJournal.OnlineState {
        guard source.type == .rdb, source.files.count == 1 else {
            throw DynokeeperError.snapshot(
                "restore.method online loads RDB snapshots, and snapshot \(source.id) is an AOF snapshot: restore it with restore.method files; nothing was touched"
            )
        }
        guard target.up else {
            throw DynokeeperError.snapshot(
                "restore.method online loads the data into the running Redis, and Redis \(connector.address) is not running: start it, or use restore.method files; nothing was touched"
            )
        }
        return RestoreJournal.OnlineState(
            settings: try await connector.withConnection { try await OnlineLoad.check($0) })
    }

    /// Finishes an interrupted restore from its journal.
    package func resume(holding lock: NodeLock? = nil) async throws -> Report {
        try Self.checkEnabled(configuration)
        let folders = try NodeFolders.forRecovery(configuration)
        let held = try lock ?? NodeLock.acquire(folders, operation: "resume")
        defer { held.release() }
        let journal = try unfinishedJournal(folders)
        CommandTracker(folders).stopLeftover(logger: logger)
        if journal.phase == .rollingBack {
            throw DynokeeperError.snapshot(
                "the earlier restore of snapshot \(journal.snapshot) was being rolled back when it stopped; it cannot be resumed: finish the rollback with `dynokeeper restore --rollback`"
            )
        }
        guard journal.phase >= .prepared else {
            try await Self.discardUntouched(journal, folders: folders)
            throw DynokeeperError.snapshot(
                "the earlier restore was interrupted while fetching the snapshot, before the node was touched; its files were removed: run the restore again"
            )
        }
        return try await proceed(
            journal: journal, folders: folders, dynomite: try DynomiteService.make(configuration, node: node),
            skipSafetySave: journal.skipSafetySave, steps: [], source: RestoreSource(resumedFrom: journal), notes: [])
    }

    /// Undoes an interrupted restore from its journal: previous data back in place, processes started. Safe to
    /// repeat until it succeeds.
    package func rollback(holding lock: NodeLock? = nil) async throws -> String {
        let folders = try NodeFolders.forRecovery(configuration)
        let held = try lock ?? NodeLock.acquire(folders, operation: "rollback")
        defer { held.release() }
        let journal = try unfinishedJournal(folders)
        CommandTracker(folders).stopLeftover(logger: logger)
        do {
            return try await undo(
                journal, folders: folders, dynomite: try DynomiteService.make(configuration, node: node))
        } catch let error as RestoreCommittedError {
            throw DynokeeperError.snapshot(error.description)
        } catch {
            throw Self.rollbackFailure(error, folders: folders, fallback: journal)
        }
    }

    func unfinishedJournal(_ folders: NodeFolders) throws -> RestoreJournal {
        guard let journal = try RestoreJournal.load(folders) else {
            throw NoUnfinishedRestoreError(journalPath: folders.journal)
        }
        return journal
    }

    /// The unfinished restore that would refuse a new one (the daemon answers 409 with it at once), `nil` when
    /// there is none or its journal is of one that never touched the node.
    package func unfinishedRestore() throws -> UnfinishedRestoreError? {
        let folders = try NodeFolders.forRestore(configuration)
        guard let journal = try RestoreJournal.load(folders), !journal.isUntouched else { return nil }
        // A restore still running holds the lock: the node is busy, not left half-restored.
        if let holder = NodeLock.currentHolder(folders) { throw NodeBusyError(holder: holder, lockPath: folders.lock) }
        return UnfinishedRestoreError(journal: journal, journalPath: folders.journal)
    }

    /// Fails unless a restore is unfinished (before a resume or rollback job is accepted).
    package func checkUnfinished() throws {
        _ = try unfinishedJournal(try NodeFolders.forRecovery(configuration))
    }

    /// Removes what a restore that never touched the node left: its fetched files and its journal.
    static func discardUntouched(_ journal: RestoreJournal, folders: NodeFolders) async throws {
        try await LocalFileSystem.remove(journal.incoming)
        try await removeWorkFolder(journal)
        try await RestoreJournal.remove(folders)
    }

    /// Refuses when `previous/` holds files that no journal accounts for.
    static func checkNoOrphanedData(_ journal: RestoreJournal) throws {
        if let left = orphanedData(journal.previous) {
            throw DynokeeperError.snapshot(
                "\(journal.previous) holds \(left) set aside by an earlier restore that has no journal (was node.state_dir changed, or the journal removed?): they may be the only copy of that node's data. Move them back into \(journal.directory), or remove them, before restoring"
            )
        }
    }

    /// What a `previous/` folder holds, `nil` when it is empty or missing.
    static func orphanedData(_ previous: String) -> String? {
        guard let left = try? FileManager.default.contentsOfDirectory(atPath: previous), !left.isEmpty else {
            return nil
        }
        return left.sorted().joined(separator: ", ")
    }

    /// The work folder, for dynokeeper's user only (it holds a copy of the data), owned like the data folder, so
    /// that the daemon can finish what a root command left.
    static func makeWorkFolder(_ journal: RestoreJournal, folders: NodeFolders) async throws {
        try await LocalFileSystem.remove(journal.incoming)
        try await LocalFileSystem.makeFolders(journal.incoming)
        StateFolder.giveToDataOwner(journal.work, folders: folders, mode: 0o700)
    }

    /// Removes the work folder, unless set-aside data is still in it.
    static func removeWorkFolder(_ journal: RestoreJournal) async throws {
        if let left = try? FileManager.default.contentsOfDirectory(atPath: journal.previous), !left.isEmpty {
            throw DynokeeperError.snapshot(
                "\(journal.previous) still holds \(left.sorted().joined(separator: ", ")); it was not removed")
        }
        try await LocalFileSystem.remove(journal.work)
    }

    /// Fetches every file of the plan into the incoming folder, and writes the files dynokeeper adds.
    private func fetch(_ plan: RestorePlan, into incoming: String) async throws {
        for placement in plan.placements {
            let path = incoming + "/" + placement.target
            if let file = placement.source {
                try await downloader.fetch(file, to: path)
            }
        }
        for placement in plan.placements where placement.source == nil {
            let path = incoming + "/" + placement.target
            try await LocalFileSystem.makeFolders((path as NSString).deletingLastPathComponent)
            if let original = placement.sameAs {
                try await LocalFileSystem.link(incoming + "/" + original, to: path)
            } else {
                let writer = try await LocalFileWriter.create(path)
                try await writer.write(.init(string: placement.content ?? ""))
                try await writer.sync()
            }
        }
        try await LocalFileSystem.syncFolder(incoming)
    }
}

/// A resume or rollback was asked for, but no restore is unfinished (HTTP 404).
package struct NoUnfinishedRestoreError: Error, Sendable, CustomStringConvertible {
    package var journalPath: String
    package var description: String { "there is no unfinished restore on this node (no \(journalPath))" }
}

/// A restore was interrupted and its journal is still there: nothing else may run until it is resumed or
/// rolled back (HTTP 409).
package struct UnfinishedRestoreError: Error, Sendable, CustomStringConvertible {
    package var journal: RestoreJournal
    package var journalPath: String

    package var description: String {
        if journal.phase == .committed {
            return
                "the restore of snapshot \(journal.snapshot) finished (its data is in place and checked), but removing the set-aside files was interrupted: run `dynokeeper restore --resume` (or POST /v1/restores/resume) to finish"
        }
        if journal.phase == .rollingBack {
            return
                "an earlier restore (snapshot \(journal.snapshot)) failed and its rollback did not finish: run `dynokeeper restore --rollback` (or POST /v1/restores/rollback) to finish it; the journal \(journalPath) says where every file is"
        }
        let online =
            journal.online == nil
            ? ""
            : " (an online restore: Redis was not stopped, but it may still be a read-only replica of dynokeeper's port that is gone, with a one-time masterauth and repl-diskless-load swapdb; resume or rollback puts it back on its own\(journal.online?.lastBytesSent == true ? "; it may hold the restored data already" : ""))"
        return
            "an earlier restore (snapshot \(journal.snapshot), started \(journal.startedAt.formatted(.iso8601)) by pid \(journal.pid)) did not finish: it stopped at step \(journal.phase.rawValue)\(online). Run `dynokeeper restore --resume` to finish it or `dynokeeper restore --rollback` to undo it (or POST /v1/restores/resume, /v1/restores/rollback); the journal \(journalPath) says where every file is"
    }
}

extension RestoreSource {
    /// What a journal remembers of the snapshot, for the report of a resumed restore.
    init(resumedFrom journal: RestoreJournal) {
        format = .dynokeeper
        id = SnapshotID(journal.snapshot) ?? SnapshotID(date: journal.startedAt)
        node = journal.sourceNode
        type = journal.type
        files = journal.plan.placements.compactMap(\.source)
        manifest = nil
    }
}
