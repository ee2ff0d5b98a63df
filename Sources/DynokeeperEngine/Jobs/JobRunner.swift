package import Foundation
package import Logging
import Synchronization

/// What the daemon's metrics learn from the jobs.
package protocol NodeEvents: Sendable {
    func jobStarted(_ job: Job)
    func jobFinished(_ job: Job)
    func backupSucceeded(storedBytes: Int64, at date: Date)
    func restoreDownloaded(bytes: Int64)
    /// A verification checked these snapshots.
    func verified(_ reports: [SnapshotVerifier.Report])
}

extension NodeEvents {
    package func verified(_ reports: [SnapshotVerifier.Report]) {}
}

extension Job: QueuedJob {
    package var runningDescription: String { "a \(kind.rawValue) job (\(id)) is already running on this node" }

    package mutating func finish(_ outcome: Result<JobResult, DynokeeperError>, at date: Date) {
        finishedAt = date
        seconds = startedAt.map { date.timeIntervalSince($0) }
        step = nil
        switch outcome {
        case .success(let result):
            state = .succeeded
            self.result = result
        case .failure(let error):
            state = .failed
            self.error = error.message
            errorCode = error.code
        }
    }
}

/// Runs one backup or restore at a time on the node and keeps the recent jobs.
///
/// A second request while one runs is refused (`job_running`) naming the running job. On shutdown no new jobs
/// start; a running backup is cancelled (its upload aborted cleanly, no manifest), and a running restore is
/// waited for, since stopping it halfway would leave the node without its data.
package struct JobRunner: Sendable {
    /// The work of a job: what it returns is the job's `result`.
    package typealias Work = @Sendable (JobProgress) async throws -> JobResult

    let queue: JobQueue<Job>
    let logger: Logger
    let events: (any NodeEvents)?

    package init(logger: Logger, events: (any NodeEvents)? = nil) {
        self.logger = logger
        self.events = events
        queue = JobQueue(keep: 100) { job in
            if let error = job.error {
                logger.error("job \(job.id) failed: \(error)")
            } else {
                logger.info("job \(job.id) succeeded")
            }
            events?.jobFinished(job)
        }
    }

    /// Fails when a job runs or the daemon is shutting down.
    package func ensureIdle() async throws(DynokeeperError) { try await queue.ensureIdle() }

    /// Starts a job now.
    /// - Throws: `job_running` when another job runs, `shutting_down` when the daemon is shutting down.
    package func start(
        _ kind: Job.Kind, parameters: JobParameters = .init(), trigger: String, work: @escaping Work
    ) async throws(DynokeeperError) -> Job {
        let progress = JobProgress()
        let logger = logger, events = events
        return try await queue.start(
            { sequence, now in
                var job = Job(
                    id: "\(kind.rawValue)-\(SnapshotID(date: now).text)-\(sequence)", kind: kind,
                    parameters: parameters,
                    trigger: trigger, createdAt: now)
                job.step = "starting"
                // Before the work starts, so that its end is never reported before its start.
                events?.jobStarted(job)
                logger.info("job \(job.id) started (\(kind.rawValue), by \(trigger))")
                return job
            }, cancelOnShutdown: kind != .restore, live: { progress.apply(to: &$0) }, work: { try await work(progress) }
        )
    }

    /// A job as it is now, with the live step and progress of a running one.
    package func job(_ id: String) async -> Job? { await queue.job(id) }

    /// The recent jobs, newest first.
    package func list() async -> [Job] { await queue.list() }

    /// The job running now, if any.
    package func current() async -> Job? { await queue.current() }

    /// The newest finished job of a kind.
    package func lastFinished(_ kind: Job.Kind) async -> Job? { await queue.lastFinished { $0.kind == kind } }

    /// The newest finished job of this kind that changed something: dry runs left out.
    package func lastPerformed(_ kind: Job.Kind) async -> Job? {
        await queue.lastFinished { $0.kind == kind && $0.parameters.dryRun != true }
    }

    /// Waits until a job has finished.
    package func wait(_ id: String) async -> Job? { await queue.wait(id) }

    /// Stops taking jobs; cancels a running backup, waits for a running restore.
    package func shutdown() async {
        let logger = logger
        await queue.shutdown { id, cancelling in
            if cancelling {
                logger.notice("cancelling the running job \(id)")
            } else {
                logger.notice("waiting for the running restore \(id) to finish before exiting")
            }
        }
    }
}

/// The live step and transfer progress of a running job, written by the work and read by the runner.
package final class JobProgress: ProgressReporter {
    private let state = Mutex<(step: String?, done: Int64, total: Int64)>((nil, 0, 0))

    init() {}

    package func progress(label: String, done: Int64, total: Int64) {
        state.withLock {
            $0.done = done; $0.total = total
        }
    }

    package func finished(label: String) {}

    package func step(_ name: String) {
        state.withLock { $0 = (name, 0, 0) }
    }

    func apply(to job: inout Job) {
        let current = state.withLock { $0 }
        if let step = current.step { job.step = step }
        job.progressBytes = current.done
        job.totalBytes = current.total
    }
}
