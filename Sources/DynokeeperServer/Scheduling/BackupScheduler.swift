import DynokeeperConfiguration
import DynokeeperEngine
import DynokeeperRing
import Foundation
import Logging
import ServiceLifecycle

/// Takes the scheduled backups: at each time `backup.schedule` names while `backup.enabled` is true, and once
/// at start-up when the newest snapshot is older than one period (the daemon was down when one was due).
/// A reload of the configuration takes effect at once.
package struct BackupScheduler: Service {
    let node: NodeService
    let ring: RingService
    let metrics: DynokeeperMetrics
    let clock: any SchedulerClock
    let logger: Logger
    /// How long a scheduled backup waits for the node while another operation holds it.
    var busyWait: Duration = .seconds(600)

    init(
        node: NodeService, ring: RingService, metrics: DynokeeperMetrics,
        clock: any SchedulerClock = SystemSchedulerClock(),
        logger: Logger
    ) {
        self.node = node
        self.ring = ring
        self.metrics = metrics
        self.clock = clock
        self.logger = logger
    }

    package func run() async throws {
        await cancelWhenGracefulShutdown {
            // LZF that a streamed backup killed in its moment left off (see LZFPause) is not left for a day.
            await node.mendRedisLZF()
            // Before any scheduled job: a new node fills itself first (restore.on_start).
            if let outcome = await node.restoreOnStart() { logger.notice("\(outcome)") }
            await catchUp()
            while !Task.isCancelled {
                let holder = node.holder
                let version = await holder.version
                let configuration = await holder.current
                guard let next = configuration.nextScheduledBackup(after: clock.now()) else {
                    await holder.changed(after: version)
                    continue
                }
                logger.info("next scheduled backup at \(ISO8601DateFormatter().string(from: next))")
                let reloaded = await clock.sleep(until: next, unlessChanged: holder, after: version)
                if reloaded || Task.isCancelled { continue }
                await takeBackup(reason: "schedule \(configuration.backup.schedule)")
            }
        }
    }

    /// Runs one backup now if the newest snapshot is older than one period of the schedule.
    func catchUp() async {
        let configuration = await node.holder.current
        // A snapshot dated in the future is not the newest (it would hide missed backups from the catch-up and the
        // staleness metric).
        let now = clock.now()
        let newest = try? await SnapshotCatalog(store: node.store, logger: logger).snapshots(of: node.node.identity)
            .first { !$0.id.isFuture(now: now) }
        if let newest { metrics.knownBackup(storedBytes: newest.manifest.storedSize, at: newest.manifest.finishedAt) }
        guard configuration.backup.enabled else { return }
        let age = newest.map { clock.now().timeIntervalSince($0.id.date) } ?? .infinity
        guard age > configuration.backup.schedule.period else { return }
        await takeBackup(
            reason: newest == nil ? "no snapshot yet" : "the newest snapshot is older than one period: a run was missed"
        )
    }

    private func takeBackup(reason: String) async {
        let configuration = await node.holder.current
        if let pending = await node.startupRestorePending() {
            logger.error("scheduled backup refused: \(pending)")
            return
        }
        if configuration.backup.scope == .ring {
            await takeRingBackup(reason: reason)
            return
        }
        do {
            let job = try await startWhenFree()
            logger.info("scheduled backup \(job.id) started (\(reason))")
            let finished = await node.runner.wait(job.id)
            if finished?.state == .succeeded, configuration.retention.isSet { await applyRetention(configuration) }
        } catch let error as UnfinishedRestoreError {
            logger.error("scheduled backup refused: \(error)")
        } catch {
            logger.warning("scheduled backup skipped: \(error)")
        }
    }

    /// Starts the backup; while another operation holds the node (the point-in-time archiver storing its base, a
    /// backup asked for by hand), tries again every 5 s for up to `busyWait`, rather than skip the scheduled run.
    private func startWhenFree() async throws -> Job {
        let deadline = ContinuousClock.now + busyWait
        var told = false
        while true {
            do {
                return try await node.startBackup(BackupRequest(), trigger: "schedule")
            } catch  where DynokeeperError(error).code == .busy && ContinuousClock.now < deadline {
                if !told { logger.info("scheduled backup waits for the node: \(error)") }
                told = true
                try await Task.sleep(for: .seconds(5))
            }
        }
    }

    /// Removes the snapshots that `retention:` no longer keeps, after a scheduled backup succeeded.
    private func applyRetention(_ configuration: DynokeeperConfiguration) async {
        do {
            let decisions = try await SnapshotPruner(store: node.store, logger: logger).run(
                node.node.identity, policy: RetentionPolicy(configuration.retention), dryRun: false)
            let gone = decisions.filter { !$0.keep }  // snapshots, and the archive segments no kept one needs
            if !gone.isEmpty {
                logger.info(
                    "retention removed \(gone.count) snapshot(s): \(gone.map(\.snapshot).joined(separator: ", "))")
            }
        } catch {
            logger.warning("retention not applied after the scheduled backup: \(error)")
        }
    }

    /// With `backup.scope: ring`, every node's scheduler wakes; only the leader (the lowest token of the
    /// first rack that answers) takes the ring backup.
    private func takeRingBackup(reason: String) async {
        do {
            let coordinator = await ring.coordinator()
            guard let leader = try await coordinator.leader() else {
                logger.warning("scheduled ring backup skipped: no dynokeeper of the ring answered")
                return
            }
            guard leader.node == node.node.identity else {
                logger.info("scheduled ring backup left to the leader \(leader.node) at \(leader.url)")
                return
            }
            let job = try await ring.startBackup(RingBackupRequest(), trigger: "schedule")
            logger.info("scheduled ring backup \(job.id) started (\(reason))")
            _ = await ring.wait(job.id)
        } catch {
            logger.warning("scheduled ring backup skipped: \(error)")
        }
    }
}

/// Verifies this node's newest snapshot at each time `verify.schedule` names (with `verify.load`, a restore drill),
/// so that the metrics say when backups stop being restorable. A reload takes effect at once.
package struct VerificationScheduler: Service {
    let node: NodeService
    let clock: any SchedulerClock
    let logger: Logger

    package func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                let holder = node.holder
                let version = await holder.version
                let configuration = await holder.current
                guard let next = configuration.verify.schedule?.next(after: clock.now()) else {
                    await holder.changed(after: version)
                    continue
                }
                let reloaded = await clock.sleep(until: next, unlessChanged: holder, after: version)
                if reloaded || Task.isCancelled { continue }
                do {
                    let job = try await node.startVerification(
                        VerificationRequest(load: configuration.verify.load), trigger: "schedule")
                    logger.info("scheduled verification \(job.id) started")
                    _ = await node.runner.wait(job.id)
                } catch {
                    logger.warning("scheduled verification skipped: \(error)")
                }
            }
        }
    }
}

extension SchedulerClock {
    /// Sleeps until `date`, unless the configuration changes first; returns whether it changed.
    func sleep(until date: Date, unlessChanged holder: ConfigurationHolder, after version: Int) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                try? await self.sleep(until: date)
                return false
            }
            group.addTask {
                await holder.changed(after: version)
                return true
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }
}
