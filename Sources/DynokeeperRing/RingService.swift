package import DynokeeperConfiguration
package import DynokeeperEngine
package import Foundation
package import Logging
package import ObjectStorage

extension RingJob: QueuedJob {
    package var runningDescription: String { "a ring job (\(id)) is already running" }

    package mutating func finish(_ outcome: Result<RingReport, DynokeeperError>, at date: Date) {
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
package struct RingService: Sendable {
    package let holder: ConfigurationHolder
    package let node: NodeSettings
    package let peers: PeerClient
    package let queue: JobQueue<RingJob>
    package let store: any ObjectStore
    let logger: Logger
    /// The clock ring snapshot ids come from.
    let now: @Sendable () -> Date

    package init(
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
    package func coordinator() async -> RingCoordinator {
        RingCoordinator(
            configuration: await holder.current, node: node, store: store, peers: peers, logger: logger, now: now)
    }

    /// Starts a ring backup (this node coordinates).
    package func startBackup(_ request: RingBackupRequest, trigger: String) async throws(DynokeeperError) -> RingJob {
        let coordinator = await coordinator()
        try coordinator.checkPeers()
        return try await start(.backup, trigger: trigger) { try await coordinator.backup(request) }
    }

    /// Starts a ring restore (this node coordinates; refused when restores are disabled here).
    package func startRestore(_ request: RingRestoreRequest, trigger: String) async throws(DynokeeperError) -> RingJob {
        let coordinator = await coordinator()
        // Refused at once (403) rather than as a failed job; the coordinator checks again for the CLI.
        try NodeRestore.checkEnabled(coordinator.configuration, ring: true)
        try coordinator.checkPeers()
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

    package func job(_ id: String) async -> RingJob? { await queue.job(id) }

    package func list() async -> [RingJob] { await queue.list() }

    package func wait(_ id: String) async -> RingJob? { await queue.wait(id) }

    /// Stops taking ring jobs and waits for the running one (its restores are not to be left half-way).
    package func shutdown() async { await queue.shutdown() }
}
