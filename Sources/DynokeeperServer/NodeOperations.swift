public import DynokeeperConfiguration
public import DynokeeperEngine
public import Foundation
public import Logging
import NodeControl
public import ObjectStorage
import RedisClient

/// What the daemon does to its node: backups and restores as jobs, and the Dynomite-manager operations
/// (snapshot, start and stop of Redis and Dynomite).
public struct NodeOperations: Sendable {
    public let holder: ConfigurationHolder
    public let node: NodeSettings
    public let store: any ObjectStore
    public let runner: JobRunner
    public let ring: RingOperations
    public let peers: PeerClient
    public let metrics: DynokeeperMetrics
    public let logger: Logger
    /// The clock ring snapshot ids come from.
    let now: @Sendable () -> Date

    public init(
        holder: ConfigurationHolder, node: NodeSettings, store: any ObjectStore, runner: JobRunner, ring: RingOperations,
        peers: PeerClient, metrics: DynokeeperMetrics, logger: Logger, now: @escaping @Sendable () -> Date = Date.init
    ) {
        self.holder = holder
        self.node = node
        self.store = store
        self.runner = runner
        self.ring = ring
        self.peers = peers
        self.metrics = metrics
        self.logger = logger
        self.now = now
    }

    /// A ring coordinator with the configuration in force now.
    public func coordinator() async -> RingCoordinator {
        RingCoordinator(
            configuration: await holder.current, node: node, store: store, peers: peers, logger: logger, now: now,
            pollInterval: .milliseconds(250))
    }

    /// Starts a ring backup (this node coordinates).
    public func startRingBackup(type: DynokeeperConfiguration.Backup.PersistenceType?, trigger: String) async throws(JobConflict) -> RingOperations.RingJob {
        let coordinator = await coordinator()
        return try await ring.start("backup", trigger: trigger) { try await coordinator.backup(type: type) }
    }

    /// Starts a ring restore (this node coordinates; refused when restores are disabled here).
    public func startRingRestore(_ request: RingCoordinator.RestoreRequest, trigger: String) async throws -> RingOperations.RingJob {
        let coordinator = await coordinator()
        guard coordinator.configuration.restore.enabled else {
            throw ConfigurationError("restores are disabled: set restore.enabled: true on every node of the ring")
        }
        return try await ring.start("restore", trigger: trigger) { try await coordinator.restore(request) }
    }

    func connector(_ configuration: DynokeeperConfiguration) -> RedisConnector {
        RedisConnector(node: node, redis: configuration.redis, logger: logger)
    }

    /// The node lock and the unfinished-restore checks, with the configuration in force.
    func nodeGuard(_ configuration: DynokeeperConfiguration) -> NodeGuard {
        NodeGuard(configuration: configuration, connector: connector(configuration), logger: logger)
    }

    /// Takes the node lock for a backup or BGSAVE before the job is accepted, so that a busy node or an unfinished
    /// restore is a 409 at once. When the lock cannot even be looked for (Redis down and no redis.conf), the job
    /// starts and reports why.
    func lockForBackup(_ configuration: DynokeeperConfiguration, operation: String) async throws -> NodeLock? {
        do {
            return try await nodeGuard(configuration).lockForBackup(operation)
        } catch let error as NodeBusyError {
            throw error
        } catch let error as UnfinishedRestoreError {
            throw error
        } catch {
            return nil
        }
    }

    /// Starts a job that holds the node lock taken for it until it ends; the lock is released at once when the job
    /// is not accepted.
    func start(
        _ kind: Job.Kind, parameters: [String: String] = [:], trigger: String, holding lock: NodeLock?,
        work: @escaping JobRunner.Work
    ) async throws -> Job {
        do {
            return try await runner.start(kind, parameters: parameters, trigger: trigger) { progress in
                defer { lock?.release() }
                return try await work(progress)
            }
        } catch {
            lock?.release()
            throw error
        }
    }

    /// Starts a backup job.
    public func startBackup(
        type: DynokeeperConfiguration.Backup.PersistenceType?, snapshotID: SnapshotID? = nil, trigger: String
    ) async throws -> Job {
        let configuration = await holder.current
        var backupOptions = NodeBackup.Options(configuration.backup, type: type)
        backupOptions.snapshotID = snapshotID
        let options = backupOptions
        let node = node, store = store, logger = logger, metrics = metrics
        let connector = connector(configuration)
        let nodeGuard = nodeGuard(configuration)
        try await runner.ensureIdle()
        let lock = try await lockForBackup(configuration, operation: "backup")
        return try await start(.backup, parameters: ["type": options.type.rawValue], trigger: trigger, holding: lock) { progress in
            // Without a lock taken beforehand, the job takes it (and fails with why it cannot).
            let late = lock == nil ? try await nodeGuard.lockForBackup("backup") : nil
            defer { late?.release() }
            let backup = NodeBackup(
                node: node, connector: connector, store: store, dataDirectory: configuration.redis.dataDir, logger: logger,
                progress: progress)
            let report = try await backup.run(options)
            metrics.backupSucceeded(storedBytes: report.manifest.storedSize, at: report.manifest.finishedAt)
            return [
                "snapshot": report.manifest.snapshotID.text, "location": report.location,
                "size": String(report.manifest.size), "stored_size": String(report.manifest.storedSize),
                "keys": String(report.manifest.keyCount),
            ]
        }
    }

    /// What a restore request asks for.
    public struct RestoreRequest: Sendable {
        public var date: Date?
        public var snapshotID: SnapshotID?
        public var sourceCluster: String?
        public var sourceDatacenter: String?
        public var sourceRack: String?
        public var dryRun = false
        /// Restore even a snapshot whose RDB format the node's Redis is older than.
        public var force = false

        public init(date: Date? = nil, snapshotID: SnapshotID? = nil, sourceCluster: String? = nil, dryRun: Bool = false) {
            self.date = date
            self.snapshotID = snapshotID
            self.sourceCluster = sourceCluster
            self.dryRun = dryRun
        }
    }

    /// Starts a restore job (refused at once when restores are disabled, the node is busy, or an earlier
    /// restore did not finish).
    public func startRestore(_ request: RestoreRequest, trigger: String) async throws -> Job {
        let configuration = await holder.current
        try NodeRestore.checkEnabled(configuration)
        var source = node.identity
        source.cluster = request.sourceCluster ?? configuration.restore.sourceCluster ?? source.cluster
        source.datacenter = request.sourceDatacenter ?? configuration.restore.sourceDatacenter ?? source.datacenter
        source.rack = request.sourceRack ?? configuration.restore.sourceRack ?? source.rack
        var restoreOptions = NodeRestore.Options(
            request: SnapshotSelector.Request(
                source: source, date: request.date ?? configuration.restore.date, snapshotID: request.snapshotID,
                dynomiteManagerType: configuration.backup.type))
        restoreOptions.dryRun = request.dryRun
        restoreOptions.force = request.force
        let options = restoreOptions
        var parameters = ["source": "\(source.cluster)/\(source)", "dry_run": String(request.dryRun)]
        if let date = options.request.date { parameters["date"] = ISO8601DateFormatter().string(from: date) }
        if let id = request.snapshotID { parameters["snapshot"] = id.text }
        let metrics = metrics
        let restore = nodeRestore(configuration, progress: nil)
        try await runner.ensureIdle()
        if let unfinished = try restore.unfinishedRestore() { throw unfinished }
        let lock = request.dryRun ? nil : try restore.acquireLock("restore")
        return try await start(.restore, parameters: parameters, trigger: trigger, holding: lock) { progress in
            let report = try await restore.with(progress: progress).run(options, holding: lock)
            if !report.dryRun { metrics.restoreDownloaded(bytes: report.source.storedSize) }
            return Self.result(of: report)
        }
    }

    /// Finishes (`resume`) or undoes (`rollback`) a restore that did not finish, as a job.
    public func startRestoreRecovery(rollback: Bool, trigger: String) async throws -> Job {
        let configuration = await holder.current
        if !rollback { try NodeRestore.checkEnabled(configuration) }
        let restore = nodeRestore(configuration, progress: nil)
        try await runner.ensureIdle()
        try restore.checkUnfinished()
        let lock = try restore.acquireLock(rollback ? "rollback" : "resume")
        return try await start(.restore, parameters: ["action": rollback ? "rollback" : "resume"], trigger: trigger, holding: lock) { progress in
            let restore = restore.with(progress: progress)
            if rollback { return ["outcome": try await restore.rollback(holding: lock)] }
            return Self.result(of: try await restore.resume(holding: lock))
        }
    }

    func nodeRestore(_ configuration: DynokeeperConfiguration, progress: (any ProgressReporter)?) -> NodeRestore {
        NodeRestore(
            configuration: configuration, node: node, connector: connector(configuration), store: store, logger: logger,
            progress: progress)
    }

    static func result(of report: NodeRestore.Report) -> [String: String] {
        var result = ["snapshot": report.source.id.text, "source": "\(report.source.node.cluster)/\(report.source.node)"]
        result["steps"] = report.steps.map(\.name).joined(separator: "; ")
        if !report.notes.isEmpty { result["notes"] = report.notes.joined(separator: "; ") }
        return result
    }

    /// Starts a job that only makes Redis save (Dynomite-manager's `takesnapshot`).
    public func startSnapshot(trigger: String) async throws -> Job {
        let configuration = await holder.current
        let connector = connector(configuration)
        let logger = logger
        let nodeGuard = nodeGuard(configuration)
        try await runner.ensureIdle()
        let lock = try await lockForBackup(configuration, operation: "snapshot")
        return try await start(.snapshot, trigger: trigger, holding: lock) { progress in
            let late = lock == nil ? try await nodeGuard.lockForBackup("snapshot") : nil
            defer { late?.release() }
            progress.step("BGSAVE")
            let redis = try await connector.connect()
            defer { Task { await redis.close() } }
            let trigger = try await RedisPersistence(redis: redis, dataDirectory: configuration.redis.dataDir, logger: logger).save()
            return ["keys": String(trigger.keyspace.values.reduce(0) { $0 + $1.keys })]
        }
    }

    /// Redis and Dynomite, stopped or started by hand (Dynomite-manager's admin paths).
    public enum Process: Sendable { case redis, dynomite }

    public func start(_ process: Process) async throws {
        let configuration = await holder.current
        let lock = try await lockForManualControl(configuration, "start \(process)")
        defer { lock?.release() }
        switch process {
        case .redis: try await redisService(configuration).start()
        case .dynomite: try await dynomiteService(configuration).start()
        }
    }

    public func stop(_ process: Process) async throws {
        let configuration = await holder.current
        let lock = try await lockForManualControl(configuration, "stop \(process)")
        defer { lock?.release() }
        switch process {
        case .redis: try await redisService(configuration).stop()
        case .dynomite: try await dynomiteService(configuration).stop()
        }
    }

    /// Starting or stopping a process by hand must not cut into a running backup or restore: it takes the node
    /// lock when the state folder can be found (with Redis down and no redis.conf, it cannot).
    func lockForManualControl(_ configuration: DynokeeperConfiguration, _ operation: String) async throws -> NodeLock? {
        guard let folders = try? await NodeFolders.resolve(configuration, connector: connector(configuration)) else { return nil }
        return try NodeLock.acquire(folders, operation: operation)
    }

    func dynomiteService(_ configuration: DynokeeperConfiguration) throws -> DynomiteService {
        guard let dynomite = try DynomiteService.make(configuration, node: node) else {
            throw ConfigurationError("this node runs no Dynomite (no node.dynomite_yaml, no dynomite.start/stop)")
        }
        return dynomite
    }

    func redisService(_ configuration: DynokeeperConfiguration) -> RedisService {
        RedisService.make(configuration, connector: connector(configuration), logger: logger)
    }

    /// The node lock and a restore that did not finish, as `/v1/status` and the metrics show them.
    public func nodeState() async -> NodeState {
        await nodeGuard(await holder.current).inspect()
    }

    /// What Redis says of itself, `nil` when it does not answer.
    public func redisState() async -> (loading: Bool, lastSave: Date?, version: String?)? {
        let configuration = await holder.current
        guard let redis = try? await connector(configuration).connect(commandTimeout: .seconds(5)) else { return nil }
        defer { Task { await redis.close() } }
        guard let info = try? await redis.info() else { return nil }
        return (
            info.int("loading") == 1, info.int("rdb_last_save_time").map { Date(timeIntervalSince1970: TimeInterval($0)) },
            info.version
        )
    }

    /// Whether Dynomite answers; `nil` for a plain Redis node.
    public func dynomiteUp() async -> Bool? {
        let configuration = await holder.current
        guard let dynomite = try? DynomiteService.make(configuration, node: node) else { return nil }
        return await dynomite.isUp()
    }
}
