public import DynokeeperConfiguration
import Foundation
public import Logging
import NodeControl
public import ObjectStorage
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
public struct NodeRestore: Sendable {
    public struct Options: Sendable {
        public var request: SnapshotSelector.Request
        /// Describe the restore without changing anything.
        public var dryRun = false
        /// Skip the BGSAVE that makes the set-aside files hold Redis's latest data.
        public var skipSafetySave = false
        /// Restore even a snapshot whose RDB format the node's Redis is older than.
        public var force = false

        public init(request: SnapshotSelector.Request) { self.request = request }
    }

    /// What a restore did, or would do (dry run).
    public struct Report: Sendable {
        public var source: RestoreSource
        public var plan: RestorePlan
        /// Each step with its duration (planned steps with zero durations on a dry run).
        public var steps: [(name: String, duration: Duration)]
        /// Messages about the checks and the loaded data (such as keys that expired since the backup).
        public var notes: [String]
        public var dryRun: Bool
    }

    public let configuration: DynokeeperConfiguration
    public let node: NodeSettings
    public let connector: RedisConnector
    public let store: any ObjectStore
    public let logger: Logger
    public let progress: (any ProgressReporter)?

    public init(
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
    public func with(progress: (any ProgressReporter)?) -> NodeRestore {
        NodeRestore(configuration: configuration, node: node, connector: connector, store: store, logger: logger, progress: progress)
    }

    var redisService: RedisService { RedisService.make(configuration, connector: connector, logger: logger) }

    /// Refuses unless restores are enabled: the one check the CLI, the API, Dynomite-manager's paths and ring
    /// restores share.
    /// - Throws: `restores_disabled`.
    public static func checkEnabled(_ configuration: DynokeeperConfiguration) throws(DynokeeperError) {
        guard configuration.restore.enabled else {
            throw DynokeeperError(
                .restoresDisabled,
                "restores are disabled: set restore.enabled: true (or dynomitemanager.dyno.backup.restore.enabled=true) to allow them")
        }
    }

    /// Takes the node lock for a restore, resume or rollback (the daemon takes it before it answers, so that a
    /// busy node gets 409 at once).
    public func acquireLock(_ operation: String) throws -> NodeLock {
        try NodeLock.acquire(NodeFolders.forRestore(configuration), operation: operation)
    }

    // MARK: Restore

    /// - Parameter lock: The node lock, when the caller took it already; taken here otherwise.
    public func run(_ options: Options, holding lock: NodeLock? = nil) async throws -> Report {
        try Self.checkEnabled(configuration)
        let dynomite = try DynomiteService.make(configuration, node: node)
        guard configuration.redis.start != nil else {
            throw ConfigurationError("restores stop Redis and start it again: set redis.start (the command that starts Redis)")
        }
        let folders = try NodeFolders.forRestore(configuration)
        let held = try lock ?? (options.dryRun ? nil : NodeLock.acquire(folders, operation: "restore"))
        defer { held?.release() }
        if held != nil { CommandTracker(folders).stopLeftover(logger: logger) }
        if let journal = try RestoreJournal.load(folders) {
            guard held != nil, try await NodeGuard(configuration: configuration, connector: connector, logger: logger)
                .discardIfUntouched(journal, folders: folders)
            else {
                throw UnfinishedRestoreError(journal: journal, journalPath: folders.journal)
            }
        }
        let source = try await SnapshotSelector(store: store, logger: logger).select(options.request)
        let target = try await RestoreTarget.inspect(configuration, connector: connector, folders: folders)
        let plan = try RestorePlan.make(source, into: target.layout)
        var notes = target.notes
        notes += try await preflight(source: source, plan: plan, target: target, options: options)
        logger.info("restoring snapshot \(source.id) of \(source.node.cluster) \(source.node) (\(source.type.rawValue), \(source.format.rawValue) format, \(source.size) bytes) into \(plan.layout.directory)")
        if options.dryRun {
            return Report(
                source: source, plan: plan, steps: plannedSteps(plan, folders: folders, dynomite: dynomite, options: options).map { ($0, .zero) },
                notes: notes, dryRun: true)
        }

        var journal = RestoreJournal(
            phase: .downloading, snapshot: source.id.text, sourceNode: source.node, type: source.type, plan: plan,
            work: folders.work, keyspace: source.manifest?.keyspace.mapValues { .init(keys: $0.keys, expires: $0.expires) },
            keyspaceExact: source.manifest?.keyspaceExact ?? false, startedAt: Date(), pid: getpid())
        journal.skipSafetySave = options.skipSafetySave
        let clock = ContinuousClock()
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

    /// Finishes an interrupted restore from its journal.
    public func resume(holding lock: NodeLock? = nil) async throws -> Report {
        try Self.checkEnabled(configuration)
        let folders = try NodeFolders.forRestore(configuration)
        let held = try lock ?? NodeLock.acquire(folders, operation: "resume")
        defer { held.release() }
        let journal = try unfinishedJournal(folders)
        CommandTracker(folders).stopLeftover(logger: logger)
        if journal.phase == .rollingBack {
            throw DynokeeperError.snapshot(
                "the earlier restore of snapshot \(journal.snapshot) was being rolled back when it stopped; it cannot be resumed: finish the rollback with `dynokeeper restore --rollback`")
        }
        guard journal.phase >= .prepared else {
            try await Self.discardUntouched(journal, folders: folders)
            throw DynokeeperError.snapshot(
                "the earlier restore was interrupted while fetching the snapshot, before the node was touched; its files were removed: run the restore again")
        }
        return try await proceed(
            journal: journal, folders: folders, dynomite: try DynomiteService.make(configuration, node: node),
            skipSafetySave: journal.skipSafetySave, steps: [], source: RestoreSource(resumedFrom: journal), notes: [])
    }

    /// Undoes an interrupted restore from its journal: previous data back in place, processes started. Safe to
    /// repeat until it succeeds.
    public func rollback(holding lock: NodeLock? = nil) async throws -> String {
        let folders = try NodeFolders.forRestore(configuration)
        let held = try lock ?? NodeLock.acquire(folders, operation: "rollback")
        defer { held.release() }
        let journal = try unfinishedJournal(folders)
        CommandTracker(folders).stopLeftover(logger: logger)
        do {
            return try await undo(journal, folders: folders, dynomite: try DynomiteService.make(configuration, node: node))
        } catch let error as RestoreCommittedError {
            throw DynokeeperError.snapshot(error.description)
        } catch {
            throw Self.rollbackFailure(error, folders: folders, fallback: journal)
        }
    }

    func unfinishedJournal(_ folders: NodeFolders) throws -> RestoreJournal {
        guard let journal = try RestoreJournal.load(folders) else { throw NoUnfinishedRestoreError(journalPath: folders.journal) }
        return journal
    }

    /// The unfinished restore that would refuse a new one (the daemon answers 409 with it at once), `nil` when
    /// there is none or its journal is of one that never touched the node.
    public func unfinishedRestore() throws -> UnfinishedRestoreError? {
        let folders = try NodeFolders.forRestore(configuration)
        guard let journal = try RestoreJournal.load(folders), !journal.isUntouched else { return nil }
        return UnfinishedRestoreError(journal: journal, journalPath: folders.journal)
    }

    /// Fails unless a restore is unfinished (before a resume or rollback job is accepted).
    public func checkUnfinished() throws {
        _ = try unfinishedJournal(try NodeFolders.forRestore(configuration))
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
                "\(journal.previous) holds \(left) set aside by an earlier restore that has no journal (was node.state_dir changed, or the journal removed?): they may be the only copy of that node's data. Move them back into \(journal.directory), or remove them, before restoring")
        }
    }

    /// What a `previous/` folder holds, `nil` when it is empty or missing.
    static func orphanedData(_ previous: String) -> String? {
        guard let left = try? FileManager.default.contentsOfDirectory(atPath: previous), !left.isEmpty else { return nil }
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
            throw DynokeeperError.snapshot("\(journal.previous) still holds \(left.sorted().joined(separator: ", ")); it was not removed")
        }
        try await LocalFileSystem.remove(journal.work)
    }

    // MARK: Checks before the node is touched

    /// Everything that can be refused before anything is fetched: a Redis that a supervisor would restart, a
    /// snapshot the node's Redis cannot load, objects whose size is not the manifest's, too little free space.
    private func preflight(source: RestoreSource, plan: RestorePlan, target: RestoreTarget, options: Options) async throws -> [String] {
        var notes: [String] = []
        if let supervised = target.supervised, supervised != "no", configuration.redis.stop == nil {
            throw ConfigurationError(
                "Redis runs supervised (supervised \(supervised)): after SHUTDOWN its supervisor would start it again on the old files while dynokeeper replaces them. Set redis.stop and redis.start to the supervisor's commands (such as systemctl stop redis-server / systemctl start redis-server)")
        }
        if let version = source.manifest?.rdbVersion {
            notes += try checkRDBVersion(version, of: "snapshot \(source.id)", target: target, force: options.force)
        } else if target.newestRDBVersion == nil && target.up {
            notes.append("this Redis (\(target.version ?? "unknown version")) is not one whose RDB formats dynokeeper knows: the format check is skipped")
        }
        for file in source.files {
            guard let info = try await store.head(file.key) else {
                throw DynokeeperError.snapshot("\(file.key) is listed in the snapshot but missing from \(store.location)")
            }
            guard info.size == file.storedSize else {
                throw DynokeeperError.snapshot(
                    "\(file.key) is \(info.size) bytes in \(store.location), the snapshot says \(file.storedSize): it is damaged or was replaced; nothing was touched")
            }
        }
        if let problem = FolderAccess.restoreProblems(directory: plan.layout.directory, appendDirectory: plan.layout.appendDirectory).first {
            throw DynokeeperError.snapshot(
                "\(problem). Run dynokeeper as root or as Redis's own user, or give Redis's group write access (see the README's Running in production); nothing was touched")
        }
        let safetySave = options.skipSafetySave || !target.up ? 0 : target.currentRDBSize
        let margin: Int64 = (64 << 20) + plan.downloadSize / 20
        let needed = plan.downloadSize + safetySave + margin
        let available = try LocalFileSystem.availableSpace(plan.layout.directory)
        guard available >= needed else {
            throw DynokeeperError.snapshot(
                "not enough free space in \(plan.layout.directory): the restore needs \(needed) bytes (snapshot \(plan.downloadSize), safety save \(safetySave), margin \(margin)), \(available) are free; nothing was touched")
        }
        return notes
    }

    private func checkRDBVersion(_ version: Int, of what: String, target: RestoreTarget, force: Bool) throws -> [String] {
        guard let newest = target.newestRDBVersion, version > newest else { return [] }
        let message = "\(what) is RDB format \(version), and this Redis \(target.version ?? "") loads formats up to \(newest): it would refuse the data at start-up"
        guard force else {
            throw DynokeeperError.snapshot("\(message). Upgrade Redis, restore an older snapshot, or pass --force (force: true) to try anyway; nothing was touched")
        }
        logger.warning("\(message); restoring anyway (--force)")
        return ["\(message) (restoring anyway: --force)"]
    }

    /// Reads the RDB format of the fetched RDB (or AOF base): manifests before it was recorded, and
    /// Dynomite-manager's objects, say nothing about it.
    private func checkFetchedFormat(_ plan: RestorePlan, incoming: String, target: RestoreTarget, force: Bool) throws {
        for placement in plan.placements {
            // An RDB, an AOF's RDB base, or an AOF with an RDB preamble: all start with REDIS and the version.
            guard let file = placement.source, let version = RDBVersion.read(file: incoming + "/" + placement.target) else { continue }
            _ = try checkRDBVersion(version, of: file.name, target: target, force: force)
        }
    }

    /// The steps a dry run lists.
    private func plannedSteps(_ plan: RestorePlan, folders: NodeFolders, dynomite: DynomiteService?, options: Options) -> [String] {
        var planned = ["fetch and verify \(plan.placements.compactMap(\.source).count) file(s) into \(folders.work)/incoming"]
        if let dynomite { planned.append("stop Dynomite (\(dynomite.stopCommand)) and wait for \(dynomite.host):\(dynomite.port) to close") }
        planned.append(options.skipSafetySave ? "no safety save (--no-safety-save)" : "BGSAVE, so that the set-aside files hold Redis's latest data")
        planned.append("stop Redis (\(configuration.redis.stop.map { "redis.stop: \($0)" } ?? "SHUTDOWN NOSAVE")) and check that it stays down")
        planned.append("set aside \(plan.layout.dataPaths.joined(separator: ", ")) into \(folders.work)/previous")
        if plan.layout.appendOnly && plan.placements.contains(where: { $0.sameAs != nil }) {
            planned.append("hand the RDB over as this Redis's AOF (appendonly yes: it loads the AOF, not the RDB): the RDB becomes the base of a new multi-part AOF")
        }
        for placement in plan.placements {
            planned.append("put \(placement.target) in place, with the owner, group and mode of the file it replaces")
        }
        planned.append("start Redis (redis.start: \(configuration.redis.start ?? "")) and wait until a new Redis process has loaded its data")
        planned.append("check the key counts against the manifest")
        if let dynomite { planned.append("start Dynomite (\(dynomite.startCommand)) and wait for \(dynomite.host):\(dynomite.port)") }
        planned.append("remove the set-aside files")
        return planned
    }

    /// Fetches every file of the plan into the incoming folder, and writes the files dynokeeper adds.
    private func fetch(_ plan: RestorePlan, into incoming: String) async throws {
        let downloader = SnapshotDownloader(store: store, logger: logger, progress: progress)
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
public struct NoUnfinishedRestoreError: Error, Sendable, CustomStringConvertible {
    public var journalPath: String
    public var description: String { "there is no unfinished restore on this node (no \(journalPath))" }
}

/// A restore was interrupted and its journal is still there: nothing else may run until it is resumed or
/// rolled back (HTTP 409).
public struct UnfinishedRestoreError: Error, Sendable, CustomStringConvertible {
    public var journal: RestoreJournal
    public var journalPath: String

    public var description: String {
        if journal.phase == .committed {
            return "the restore of snapshot \(journal.snapshot) finished (its data is in place and checked), but removing the set-aside files was interrupted: run `dynokeeper restore --resume` (or POST /v1/restores/resume) to finish"
        }
        if journal.phase == .rollingBack {
            return "an earlier restore (snapshot \(journal.snapshot)) failed and its rollback did not finish: run `dynokeeper restore --rollback` (or POST /v1/restores/rollback) to finish it; the journal \(journalPath) says where every file is"
        }
        return "an earlier restore (snapshot \(journal.snapshot), started \(journal.startedAt.formatted(.iso8601)) by pid \(journal.pid)) did not finish: it stopped at step \(journal.phase.rawValue). Run `dynokeeper restore --resume` to finish it or `dynokeeper restore --rollback` to undo it (or POST /v1/restores/resume, /v1/restores/rollback); the journal \(journalPath) says where every file is"
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
