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
/// Any failure after the node was touched puts the previous data back and starts the processes as they were;
/// the error then says what failed and the state the node is in. Every step is recorded in a journal in the
/// data folder, so that a restore that was killed can be finished (`resume`) or undone (`rollback`).
public struct NodeRestore: Sendable {
    public struct Options: Sendable {
        public var request: SnapshotSelector.Request
        /// Describe the restore without changing anything.
        public var dryRun = false
        /// Skip the BGSAVE that makes the set-aside files hold Redis's latest data.
        public var skipSafetySave = false

        public init(request: SnapshotSelector.Request) { self.request = request }
    }

    /// What a restore did, or would do (dry run).
    public struct Report: Sendable {
        public var source: RestoreSource
        public var plan: RestorePlan
        /// Each step with its duration (planned steps with zero durations on a dry run).
        public var steps: [(name: String, duration: Duration)]
        /// Messages about the loaded data (such as keys that expired since the backup).
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

    var redisService: RedisService {
        RedisService(
            connector: connector, startCommand: configuration.redis.start.map { ShellCommand($0, key: "redis.start") },
            stopCommand: configuration.redis.stop.map { ShellCommand($0, key: "redis.stop") }, logger: logger)
    }

    /// Refuses unless restores are enabled.
    func checkEnabled() throws {
        guard configuration.restore.enabled else {
            throw ConfigurationError(
                "restores are disabled: set restore.enabled: true (or dynomitemanager.dyno.backup.restore.enabled=true) to allow them")
        }
    }

    // MARK: Restore

    public func run(_ options: Options) async throws -> Report {
        try checkEnabled()
        let dynomite = try DynomiteService.make(configuration, node: node)
        guard configuration.redis.start != nil else {
            throw ConfigurationError("restores stop Redis and start it again: set redis.start (the command that starts Redis)")
        }
        let source = try await SnapshotSelector(store: store, logger: logger).select(options.request)
        let redis = redisService
        let layout = try await currentLayout()
        let plan = try RestorePlan.make(source, into: layout)
        if let journal = try RestoreJournal.load(in: layout.directory) {
            throw SnapshotError(
                "an earlier restore (snapshot \(journal.snapshot)) did not finish: it stopped at step \(journal.phase.rawValue). Run `dynokeeper restore --resume` to finish it or `dynokeeper restore --rollback` to undo it")
        }
        let needed = plan.downloadSize + (64 << 20)
        let available = try LocalFileSystem.availableSpace(layout.directory)
        guard available >= needed else {
            throw SnapshotError("not enough free space in \(layout.directory): the snapshot needs \(needed) bytes, \(available) are free")
        }
        logger.info("restoring snapshot \(source.id) of \(source.node.cluster) \(source.node) (\(source.type.rawValue), \(source.format.rawValue) format, \(source.size) bytes) into \(layout.directory)")

        var steps: [(String, Duration)] = []
        if options.dryRun {
            var planned = ["fetch and verify \(source.files.count) file(s) into \(RestoreJournal.folder(in: layout.directory))/incoming"]
            if let dynomite { planned.append("stop Dynomite (\(dynomite.stopCommand)) and wait for \(dynomite.host):\(dynomite.port) to close") }
            planned.append(options.skipSafetySave ? "no safety save (--no-safety-save)" : "BGSAVE, so that the set-aside files hold Redis's latest data")
            planned.append("stop Redis (\(configuration.redis.stop.map { "redis.stop: \($0)" } ?? "SHUTDOWN NOSAVE")) and wait for \(connector.address) to close")
            planned.append("set aside \(layout.dataPaths.joined(separator: ", ")) into \(RestoreJournal.folder(in: layout.directory))/previous")
            for placement in plan.placements { planned.append("put \(placement.target) in place") }
            planned.append("start Redis (redis.start: \(configuration.redis.start ?? "")) and wait until its data is loaded")
            planned.append("check the key counts against the manifest")
            if let dynomite { planned.append("start Dynomite (\(dynomite.startCommand)) and wait for \(dynomite.host):\(dynomite.port)") }
            planned.append("remove the set-aside files")
            return Report(source: source, plan: plan, steps: planned.map { ($0, .zero) }, notes: [], dryRun: true)
        }

        var journal = RestoreJournal(
            phase: .downloading, snapshot: source.id.text, sourceNode: source.node, type: source.type, plan: plan,
            keyspace: source.manifest?.keyspace.mapValues { .init(keys: $0.keys, expires: $0.expires) },
            keyspaceExact: source.manifest?.keyspaceExact ?? false, startedAt: Date())
        let work = RestoreJournal.folder(in: layout.directory)
        let clock = ContinuousClock()
        let start = clock.now
        progress?.step("fetch and verify")
        do {
            try await LocalFileSystem.makeFolders(work + "/incoming")
            try await journal.save(in: layout.directory)
            try await fetch(plan, into: work + "/incoming")
        } catch {
            // Nothing was touched: drop what was fetched.
            try? await LocalFileSystem.remove(work)
            throw error
        }
        steps.append(("fetch and verify", clock.now - start))
        journal.phase = .prepared
        try await journal.save(in: layout.directory)

        return try await proceed(journal: journal, dynomite: dynomite, redis: redis, skipSafetySave: options.skipSafetySave, steps: steps, source: source)
    }

    /// Finishes an interrupted restore from its journal.
    public func resume() async throws -> Report {
        try checkEnabled()
        let journal = try await unfinishedJournal()
        guard journal.phase >= .prepared else {
            try await LocalFileSystem.remove(RestoreJournal.folder(in: journal.plan.layout.directory))
            throw SnapshotError("the earlier restore was interrupted while fetching the snapshot, before the node was touched; its files were removed: run the restore again")
        }
        return try await proceed(
            journal: journal, dynomite: try DynomiteService.make(configuration, node: node), redis: redisService,
            skipSafetySave: true, steps: [], source: RestoreSource(resumedFrom: journal))
    }

    /// Undoes an interrupted restore from its journal: previous data back in place, processes started.
    public func rollback() async throws -> String {
        try await undo(unfinishedJournal(), dynomite: try DynomiteService.make(configuration, node: node), redis: redisService)
    }

    /// The journal of an unfinished restore, in the data folder (`redis.data_dir`, else where Redis or redis.conf
    /// says, since Redis may be down).
    func unfinishedJournal() async throws -> RestoreJournal {
        var directory = configuration.redis.dataDir
        if directory == nil { directory = try await currentLayout().directory }
        guard let directory else { throw SnapshotError("cannot tell Redis's data folder") }
        guard let journal = try RestoreJournal.load(in: directory) else {
            throw SnapshotError("there is no unfinished restore in \(directory) (no \(RestoreJournal.path(in: directory)))")
        }
        return journal
    }

    /// The steps from stopping the node on, each recorded in the journal; rolls back on failure.
    private func proceed(
        journal initial: RestoreJournal, dynomite: DynomiteService?, redis: RedisService, skipSafetySave: Bool,
        steps initialSteps: [(String, Duration)], source: RestoreSource
    ) async throws -> Report {
        var journal = initial
        var steps = initialSteps
        let layout = journal.plan.layout
        let directory = layout.directory
        let work = RestoreJournal.folder(in: directory)
        let clock = ContinuousClock()
        var notes: [String] = []
        var step = "stop Dynomite" {
            didSet { progress?.step(step) }
        }
        progress?.step(step)
        do {
            if journal.phase == .prepared {
                var start = clock.now
                if let dynomite, await dynomite.isUp() {
                    logger.info("stopping Dynomite")
                    journal.stoppedDynomite = true
                    try await journal.save(in: directory)
                    try await dynomite.stop()
                    steps.append(("stop Dynomite", clock.now - start))
                }
                if await redis.isUp() {
                    if !skipSafetySave {
                        step = "safety save (BGSAVE)"
                        start = clock.now
                        logger.info("asking Redis to save its current data before it stops")
                        let connection = try await connector.connect()
                        defer { Task { await connection.close() } }
                        _ = try await RedisPersistence(redis: connection, dataDirectory: directory, logger: logger).save()
                        steps.append(("safety save", clock.now - start))
                    }
                    step = "stop Redis"
                    start = clock.now
                    logger.info("stopping Redis without saving")
                    try await redis.stop()
                    steps.append(("stop Redis", clock.now - start))
                }
                journal.phase = .stopped
                try await journal.save(in: directory)
            }
            if journal.phase == .stopped {
                step = "set the current data aside"
                let start = clock.now
                try await LocalFileSystem.makeFolders(work + "/previous")
                for path in layout.dataPaths where LocalFileSystem.exists(directory + "/" + path) {
                    if !journal.setAside.contains(path) {
                        journal.setAside.append(path)
                        try await journal.save(in: directory)
                    }
                    try await LocalFileSystem.rename(directory + "/" + path, to: work + "/previous/" + path)
                }
                journal.phase = .setAside
                try await journal.save(in: directory)
                steps.append(("set aside", clock.now - start))
            }
            if journal.phase == .setAside {
                step = "put the new files in place"
                let start = clock.now
                for placement in journal.plan.placements {
                    let incoming = work + "/incoming/" + placement.target
                    let target = directory + "/" + placement.target
                    if LocalFileSystem.exists(incoming) {
                        try await LocalFileSystem.makeFolders((target as NSString).deletingLastPathComponent)
                        try await LocalFileSystem.rename(incoming, to: target)
                    } else if !LocalFileSystem.exists(target) {
                        throw SnapshotError("\(placement.target) is neither fetched nor in place")
                    }
                }
                journal.phase = .placed
                try await journal.save(in: directory)
                steps.append(("put in place", clock.now - start))
            }
            if journal.phase == .placed {
                step = "start Redis"
                let start = clock.now
                logger.info("starting Redis on the restored data")
                try await redis.start()
                journal.phase = .started
                try await journal.save(in: directory)
                steps.append(("start Redis and load", clock.now - start))
            }
            step = "check the restored data"
            var start = clock.now
            notes = try await verify(journal)
            steps.append(("check key counts", clock.now - start))
            if journal.stoppedDynomite, let dynomite {
                step = "start Dynomite"
                start = clock.now
                logger.info("starting Dynomite")
                try await dynomite.start()
                steps.append(("start Dynomite", clock.now - start))
            }
        } catch {
            logger.error("restore failed at \(step): \(error); rolling back")
            let outcome: String
            do {
                outcome = try await undo(journal, dynomite: dynomite, redis: redis)
            } catch let rollbackError {
                throw SnapshotError(
                    "restore failed at \(step): \(error). Rolling back failed too: \(rollbackError). The previous data is in \(work)/previous and the journal in \(RestoreJournal.path(in: directory)); see the README's manual recovery")
            }
            throw SnapshotError("restore failed at \(step): \(error). \(outcome)")
        }
        let start = clock.now
        try await LocalFileSystem.remove(work)
        steps.append(("remove the set-aside files", clock.now - start))
        logger.info("restore of snapshot \(journal.snapshot) complete")
        return Report(source: source, plan: journal.plan, steps: steps, notes: notes, dryRun: false)
    }

    /// Compares the loaded key counts with the manifest's: fewer keys than the manifest had, beyond those
    /// that could have expired, is a failure when the counts were exact.
    private func verify(_ journal: RestoreJournal) async throws -> [String] {
        guard let expected = journal.keyspace else { return ["no key counts to check against (Dynomite-manager snapshot)"] }
        let connection = try await connector.connect()
        defer { Task { await connection.close() } }
        let loaded = try await connection.info("keyspace").keyspace
        var notes: [String] = []
        for database in Set(expected.keys.compactMap { Int($0.dropFirst(2)) }).union(loaded.keys).sorted() {
            let want = expected["db\(database)"] ?? .init(keys: 0, expires: 0)
            let have = loaded[database]?.keys ?? 0
            if have == want.keys { continue }
            let expired = want.keys - have
            if journal.keyspaceExact && (have > want.keys || expired > want.expires) {
                throw SnapshotError("db\(database) holds \(have) keys after loading, the snapshot had \(want.keys) (\(want.expires) with a TTL)")
            }
            notes.append(
                have < want.keys
                    ? "db\(database): \(have) keys of \(want.keys) (\(expired) had a TTL and expired since the backup)"
                    : "db\(database): \(have) keys, the snapshot counted about \(want.keys) (\(journal.keyspaceExact ? "exact" : "approximate") count)")
        }
        return notes
    }

    /// Puts the previous data back and starts the processes again. Returns what state the node is in.
    private func undo(_ journal: RestoreJournal, dynomite: DynomiteService?, redis: RedisService) async throws -> String {
        let directory = journal.plan.layout.directory
        let work = RestoreJournal.folder(in: directory)
        if journal.phase >= .stopped {
            if await redis.isUp() { try await redis.stop() }
            // What is in the data paths now is the restore's: remove it, then move the previous files back.
            for placement in journal.plan.placements where journal.phase >= .setAside {
                try await LocalFileSystem.remove(directory + "/" + placement.target)
            }
            for path in journal.setAside where LocalFileSystem.exists(work + "/previous/" + path) {
                try await LocalFileSystem.remove(directory + "/" + path)
                try await LocalFileSystem.makeFolders((directory + "/" + path as NSString).deletingLastPathComponent)
                try await LocalFileSystem.rename(work + "/previous/" + path, to: directory + "/" + path)
            }
        }
        if !(await redis.isUp()) { try await redis.start() }
        if journal.stoppedDynomite, let dynomite, !(await dynomite.isUp()) { try await dynomite.start() }
        try await LocalFileSystem.remove(work)
        return "Rolled back: the previous data is back in place and Redis\(journal.stoppedDynomite ? " and Dynomite" : "") run again."
    }

    /// The target Redis's layout: asked of Redis when it runs, else read from `redis.conf`.
    func currentLayout() async throws -> RedisLayout {
        if let connection = try? await connector.connect() {
            defer { Task { await connection.close() } }
            return try await RedisLayout.read(from: connection, dataDirectory: configuration.redis.dataDir)
        }
        guard let conf = configuration.redis.conf else {
            throw SnapshotError("Redis at \(connector.address) is not running and redis.conf is not set: dynokeeper cannot tell where Redis keeps its data")
        }
        return try RedisLayout.read(conf: conf, dataDirectory: configuration.redis.dataDir, multiPart: true)
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

import NIOCore
