public import DynokeeperConfiguration
public import DynokeeperEngine
public import Foundation
public import Logging
public import ObjectStorage

extension RingJob: QueuedJob {
    public var runningDescription: String { "a ring job (\(id)) is already running" }

    public mutating func finish(_ outcome: Result<RingReport, DynokeeperError>, at date: Date) {
        finishedAt = date
        switch outcome {
        case .success(let report):
            self.report = report
            state = report.succeeded ? .succeeded : .failed
            error = report.error
        case .failure(let failure):
            state = .failed
            error = failure.message
            errorCode = failure.code
        }
    }
}

/// Ring backups and restores started through the API or the schedule, coordinated from this node: one at a
/// time, kept for `GET /v1/ring/jobs`. They do not hold this node's job slot, since the coordinator asks this node
/// (among the others) for its own backup.
public struct RingService: Sendable {
    public let holder: ConfigurationHolder
    public let node: NodeSettings
    public let peers: PeerClient
    public let queue: JobQueue<RingJob>
    public let store: any ObjectStore
    let logger: Logger
    /// The clock ring snapshot ids come from.
    let now: @Sendable () -> Date

    public init(
        holder: ConfigurationHolder, node: NodeSettings, store: any ObjectStore, peers: PeerClient,
        logger: Logger, now: @escaping @Sendable () -> Date = Date.init
    ) {
        self.holder = holder
        self.node = node
        self.store = store
        self.peers = peers
        self.logger = logger
        self.now = now
        queue = JobQueue(keep: 50) { job in
            logger.info("ring job \(job.id) \(job.state.rawValue)\(job.error.map { ": \($0)" } ?? "")")
        }
    }

    /// A ring coordinator with the configuration in force now.
    public func coordinator() async -> RingCoordinator {
        RingCoordinator(
            configuration: await holder.current, node: node, store: store, peers: peers, logger: logger, now: now,
            pollInterval: .milliseconds(250))
    }

    /// Starts a ring backup (this node coordinates).
    public func startBackup(_ request: RingBackupRequest, trigger: String) async throws(DynokeeperError) -> RingJob {
        let coordinator = await coordinator()
        return try await start(.backup, trigger: trigger) { try await coordinator.backup(request) }
    }

    /// Starts a ring restore (this node coordinates; refused when restores are disabled here).
    public func startRestore(_ request: RingRestoreRequest, trigger: String) async throws(DynokeeperError) -> RingJob {
        let coordinator = await coordinator()
        try NodeRestore.checkEnabled(coordinator.configuration)
        return try await start(.restore, trigger: trigger) { try await coordinator.restore(request) }
    }

    private func start(
        _ kind: RingReport.Kind, trigger: String, work: @escaping @Sendable () async throws -> RingReport
    ) async throws(DynokeeperError) -> RingJob {
        let logger = logger
        return try await queue.start(
            { sequence, now in
                let id = "ring-\(kind.rawValue)-\(Int(now.timeIntervalSince1970))-\(sequence)"
                logger.info("ring job \(id) started by \(trigger)")
                return RingJob(id: id, kind: kind, trigger: trigger, createdAt: now)
            }, cancelOnShutdown: false, work: work)
    }

    public func job(_ id: String) async -> RingJob? { await queue.job(id) }

    public func list() async -> [RingJob] { await queue.list() }

    public func wait(_ id: String) async -> RingJob? { await queue.wait(id) }

    /// Stops taking ring jobs and waits for the running one (its restores are not to be left half-way).
    public func shutdown() async { await queue.shutdown() }
}
