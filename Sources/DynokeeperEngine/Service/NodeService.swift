package import DynokeeperConfiguration
package import Foundation
package import Logging
package import ObjectStorage
import RedisClient

/// The application service the daemon's API, its schedule and Dynomite-manager's paths call: backups, restores
/// and their recovery as jobs, Redis's BGSAVE, and starting or stopping Redis and Dynomite by hand. Each call
/// takes the configuration in force at that moment.
package struct NodeService: Sendable {
    package let holder: ConfigurationHolder
    package let node: NodeSettings
    package let store: any ObjectStore
    package let runner: JobRunner
    package let events: (any NodeEvents)?
    package let logger: Logger
    /// This daemon's run, as `/v1/status` shows it (``NodeStatus/instance``).
    package let instance = UUID().uuidString.lowercased()
    /// The point-in-time archiver (`pitr.enabled`), which the daemon runs.
    package let archiver: StreamArchiver?

    package init(
        holder: ConfigurationHolder, node: NodeSettings, store: any ObjectStore, runner: JobRunner,
        events: (any NodeEvents)?, logger: Logger, archiver: StreamArchiver? = nil
    ) {
        self.holder = holder
        self.node = node
        self.store = store
        self.runner = runner
        self.events = events
        self.logger = logger
        self.archiver = archiver
    }

    /// The node's components, with the configuration in force now.
    package func components() async -> NodeComponents {
        NodeComponents(configuration: await holder.current, node: node, store: store, logger: logger)
    }

    /// Takes the node lock for a backup or BGSAVE before the job is accepted, so that a busy node or an unfinished
    /// restore is refused at once. When the lock cannot even be looked for (Redis down and no redis.conf), the job
    /// starts and reports why.
    func lockForBackup(_ components: NodeComponents, operation: String) async throws -> NodeLock? {
        do {
            return try await components.nodeGuard.lockForBackup(operation)
        } catch {
            switch DynokeeperError(error).code {
            case .busy, .unfinishedRestore: throw error
            default: return nil
            }
        }
    }

    /// Starts a job that holds the node lock taken for it until it ends; the lock is released at once when the job
    /// is not accepted.
    func start(
        _ kind: Job.Kind, parameters: JobParameters = .init(), trigger: String, holding lock: NodeLock?,
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

    /// Puts Redis's LZF back on when a streamed backup was stopped while it had it off (``LZFPause``), rather than
    /// leave it to the next backup.
    package func mendRedisLZF() async {
        let components = await components()
        guard let folders = try? await NodeFolders.resolve(components.configuration, connector: components.connector),
            FileManager.default.fileExists(atPath: LZFPause.marker(in: folders.state))
        else { return }
        let logger = logger
        try? await components.connector.withConnection(commandTimeout: .seconds(10)) { redis in
            await LZFPause.mend(redis, stateFolder: folders.state, logger: logger)
        }
    }

    /// Starts a backup job.
    package func startBackup(_ request: BackupRequest, trigger: String) async throws -> Job {
        let components = await components()
        // However asked (the schedule, the API, Dynomite-manager's paths, a ring backup).
        try await components.refuseBackupWhileStartupRestorePending()
        var backupOptions = NodeBackup.Options(components.configuration.backup, type: request.type)
        backupOptions.snapshotID = request.snapshotID
        let options = backupOptions
        let events = events
        try await runner.ensureIdle()
        let lock = try await lockForBackup(components, operation: "backup")
        let parameters = JobParameters(type: options.type, snapshot: request.snapshotID?.text)
        return try await start(.backup, parameters: parameters, trigger: trigger, holding: lock) { progress in
            // Without a lock taken beforehand, the job takes it (and fails with why it cannot).
            let late = lock == nil ? try await components.nodeGuard.lockForBackup("backup") : nil
            defer { late?.release() }
            let report = try await components.backup(progress: progress).run(options)
            events?.backupSucceeded(storedBytes: report.manifest.storedSize, at: report.manifest.finishedAt)
            return JobResult(report)
        }
    }

    /// Starts a verification job: the snapshots read back from the store (and loaded into a throwaway Redis with
    /// `load`), the node untouched. The job fails, naming the problems, when any snapshot fails.
    package func startVerification(_ request: VerificationRequest, trigger: String) async throws -> Job {
        let components = await components()
        let (node, events) = (self.node, events)
        try await runner.ensureIdle()
        let parameters = JobParameters(snapshot: request.snapshot?.text, all: request.all, load: request.load)
        return try await start(.verification, parameters: parameters, trigger: trigger, holding: nil) { progress in
            let reports = try await components.verifier(progress: progress).run(node.identity, request: request)
            events?.verified(reports)
            let failed = reports.filter { !$0.ok }
            guard failed.isEmpty else {
                throw DynokeeperError(
                    .snapshot,
                    "\(failed.count) of \(reports.count) snapshot(s) failed verification: "
                        + failed.map { "\($0.snapshot): \($0.problems.joined(separator: "; "))" }.joined(
                            separator: "; "))
            }
            var result = JobResult(snapshot: reports.first?.snapshot)
            result.verifications = reports
            return result
        }
    }

    /// Starts a restore job (refused at once when restores are disabled, the node is busy, or an earlier
    /// restore did not finish).
    package func startRestore(_ request: RestoreRequest, trigger: String) async throws -> Job {
        let components = await components()
        let restore = components.restore(progress: nil)
        _ = try restore.checkConfiguration()
        let options = request.options(components.configuration, node: node)
        if let target = options.toTime {
            // A moment the archive does not reach is the request's fault (400), said before a job starts.
            var planned = options
            _ = try await restore.planPointInTime(to: target, options: &planned)
        }
        let source = options.request.source
        var parameters = JobParameters(
            source: "\(source.cluster)/\(source)", date: options.request.date, snapshot: request.snapshot?.text,
            dryRun: request.dryRun)
        parameters.toTime = options.toTime
        let events = events
        try await runner.ensureIdle()
        if let unfinished = try restore.unfinishedRestore() { throw unfinished }
        let lock = request.dryRun ? nil : try restore.acquireLock("restore")
        return try await start(.restore, parameters: parameters, trigger: trigger, holding: lock) { progress in
            let report = try await restore.with(progress: progress).run(options, holding: lock)
            if !report.dryRun { events?.restoreDownloaded(bytes: report.source.storedSize) }
            return JobResult(report)
        }
    }

    /// Finishes (`resume`) or undoes (`rollback`) a restore that did not finish, as a job.
    package func startRestoreRecovery(rollback: Bool, trigger: String) async throws -> Job {
        let components = await components()
        let restore = components.restore(progress: nil)
        // A resume goes on with the restore and needs what it needs; a rollback is allowed even with restores
        // disabled, and puts the files back even if it cannot start Redis.
        if !rollback { _ = try restore.checkConfiguration(recovery: true) }
        try await runner.ensureIdle()
        try restore.checkUnfinished()
        let action = rollback ? "rollback" : "resume"
        let lock = try restore.acquireLock(action, recovery: true)
        return try await start(.restore, parameters: .init(action: action), trigger: trigger, holding: lock) {
            progress in
            let restore = restore.with(progress: progress)
            if rollback { return JobResult(outcome: try await restore.rollback(holding: lock)) }
            return JobResult(try await restore.resume(holding: lock))
        }
    }

    /// Starts a job that only makes Redis save (Dynomite-manager's `takesnapshot`).
    package func startSnapshot(trigger: String) async throws -> Job {
        let components = await components()
        let logger = logger
        try await runner.ensureIdle()
        let lock = try await lockForBackup(components, operation: "snapshot")
        return try await start(.snapshot, trigger: trigger, holding: lock) { progress in
            let late = lock == nil ? try await components.nodeGuard.lockForBackup("snapshot") : nil
            defer { late?.release() }
            // As Dynomite-manager's takesnapshot does: the persistence the node uses (backup.type, or its
            // florida.dyno.persistence.type), BGREWRITEAOF for AOF.
            let type = components.configuration.backup.type
            progress.step(type == .aof ? "BGREWRITEAOF" : "BGSAVE")
            let saved = try await components.connector.withConnection { redis in
                let persistence = RedisPersistence(
                    redis: redis, dataDirectory: components.configuration.redis.dataDir, logger: logger)
                return type == .aof ? try await persistence.rewrite() : try await persistence.save()
            }
            return JobResult(keys: saved.keyspace.values.reduce(0) { $0 + $1.keys })
        }
    }

    /// Redis and Dynomite, stopped or started by hand (Dynomite-manager's admin paths).
    package enum Process: String, Sendable { case redis, dynomite }

    package func start(_ process: Process) async throws {
        try await control(process, "start") {
            try await $0.start()
        } dynomite: {
            try await $0.start()
        }
    }

    package func stop(_ process: Process) async throws {
        try await control(process, "stop") {
            try await $0.stop()
        } dynomite: {
            try await $0.stop()
        }
    }

    /// Starting or stopping a process by hand must not cut into a running backup or restore: it takes the node
    /// lock when the state folder can be found (with Redis down and no redis.conf, it cannot).
    private func control(
        _ process: Process, _ verb: String, redis: (RedisService) async throws -> Void,
        dynomite: (DynomiteService) async throws -> Void
    ) async throws {
        let components = await components()
        let folders = try? await NodeFolders.resolve(components.configuration, connector: components.connector)
        let lock = try folders.map { try NodeLock.acquire($0, operation: "\(verb) \(process.rawValue)") }
        defer { lock?.release() }
        switch process {
        case .redis: try await redis(components.redisService)
        case .dynomite:
            guard let service = try components.dynomiteService() else {
                throw DynokeeperError(
                    .invalidConfiguration, "this node runs no Dynomite (no node.dynomite_yaml, no dynomite.start/stop)")
            }
            try await dynomite(service)
        }
    }

    /// The node lock and a restore that did not finish, as the metrics show them.
    package func nodeState() async -> NodeState {
        await components().nodeGuard.inspect()
    }

    /// Redis as `/v1/status` shows it.
    package func redisState() async -> NodeStatus.Redis {
        await components().redisStatus()
    }

    /// Whether Dynomite answers; `nil` for a plain Redis node.
    package func dynomiteUp() async -> Bool? {
        await components().dynomiteUp()
    }

    /// `/v1/status`: one configuration for the whole document, even across a reload.
    package func status(now: Date, startedAt: Date) async -> NodeStatus {
        var status = await components().status(jobs: runner, now: now, startedAt: startedAt)
        status.instance = instance
        status.pitr = await archiver?.status
        return status
    }
}
