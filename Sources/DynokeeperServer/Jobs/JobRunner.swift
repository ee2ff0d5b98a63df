public import DynokeeperEngine
import Foundation
public import Logging
import Synchronization

/// Runs one backup or restore at a time on the node and keeps the recent jobs.
///
/// A second request while one runs is refused with ``JobConflict`` naming the running job. On shutdown no new
/// jobs start; a running backup is cancelled (its upload aborted cleanly, no manifest), and a running restore
/// is waited for, since stopping it halfway would leave the node without its data.
public actor JobRunner {
    /// The outcome a job's work returns: shown in the job's `result`.
    public typealias Work = @Sendable (JobProgress) async throws -> [String: String]

    private var jobs: [Job] = []
    private var running: (id: String, kind: Job.Kind, task: Task<Void, Never>, progress: JobProgress)?
    private var accepting = true
    private var waiters: [String: [CheckedContinuation<Job, Never>]] = [:]
    private var counter = 0
    private let keep = 100
    let logger: Logger
    let metrics: DynokeeperMetrics?

    public init(logger: Logger, metrics: DynokeeperMetrics? = nil) {
        self.logger = logger
        self.metrics = metrics
    }

    /// Fails when a job runs or the daemon is shutting down: checked before a job takes the node lock, so that a
    /// second request names the running job.
    public func ensureIdle() throws(JobConflict) {
        guard accepting else { throw JobConflict(message: "dynokeeper is shutting down and starts no new jobs", running: nil) }
        if let running, let current = job(running.id) {
            throw JobConflict(message: "a \(current.kind.rawValue) job (\(current.id)) is already running on this node", running: current)
        }
    }

    /// Starts a job now.
    /// - Throws: ``JobConflict`` when another job runs, or when the daemon is shutting down.
    public func start(
        _ kind: Job.Kind, parameters: [String: String] = [:], trigger: String, work: @escaping Work
    ) throws(JobConflict) -> Job {
        try ensureIdle()
        counter += 1
        let now = Date()
        let id = "\(kind.rawValue)-\(SnapshotID(date: now).text)-\(counter)"
        var job = Job(
            id: id, kind: kind, state: .running, parameters: parameters, trigger: trigger, createdAt: now, startedAt: now)
        job.step = "starting"
        jobs.append(job)
        if jobs.count > keep { jobs.removeFirst(jobs.count - keep) }
        let progress = JobProgress(id: id)
        metrics?.jobStarted(job)
        logger.info("job \(id) started (\(kind.rawValue), by \(trigger))")
        let task = Task {
            do {
                let result = try await work(progress)
                self.finish(id, result: result, error: nil)
            } catch {
                self.finish(id, result: nil, error: error)
            }
        }
        running = (id, kind, task, progress)
        return job
    }

    private func finish(_ id: String, result: [String: String]?, error: (any Error)?) {
        guard let index = jobs.firstIndex(where: { $0.id == id }) else { return }
        if let running, running.id == id { running.progress.apply(to: &jobs[index]) }
        jobs[index].finishedAt = Date()
        jobs[index].step = nil
        if let error {
            jobs[index].state = .failed
            jobs[index].error = error is CancellationError ? "cancelled: dynokeeper was shutting down" : "\(error)"
            logger.error("job \(id) failed: \(jobs[index].error ?? "")")
        } else {
            jobs[index].state = .succeeded
            jobs[index].result = result
            logger.info("job \(id) succeeded")
        }
        metrics?.jobFinished(jobs[index])
        if running?.id == id { running = nil }
        for waiter in waiters.removeValue(forKey: id) ?? [] { waiter.resume(returning: jobs[index]) }
    }

    /// A job as it is now, with the live step and progress of a running one.
    public func job(_ id: String) -> Job? {
        guard var job = jobs.first(where: { $0.id == id }) else { return nil }
        if let running, running.id == id { running.progress.apply(to: &job) }
        return job
    }

    /// The recent jobs, newest first.
    public func list() -> [Job] { jobs.reversed().compactMap { job($0.id) } }

    /// The job running now, if any.
    public func current() -> Job? { running.flatMap { job($0.id) } }

    /// The newest finished job of a kind.
    public func lastFinished(_ kind: Job.Kind) -> Job? { jobs.last { $0.kind == kind && $0.isFinished } }

    /// Waits until a job has finished.
    public func wait(_ id: String) async -> Job? {
        guard let job = job(id) else { return nil }
        if job.isFinished { return job }
        return await withCheckedContinuation { waiters[id, default: []].append($0) }
    }

    /// Stops taking jobs; cancels a running backup, waits for a running restore.
    public func shutdown() async {
        accepting = false
        guard let running else { return }
        if running.kind == .restore {
            logger.notice("waiting for the running restore \(running.id) to finish before exiting")
        } else {
            logger.notice("cancelling the running \(running.kind.rawValue) \(running.id)")
            running.task.cancel()
        }
        await running.task.value
    }
}

/// A request refused because a job already runs (HTTP 409).
public struct JobConflict: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var running: Job?
    public var description: String { message }
}

/// The live step and transfer progress of a running job, written by the work and read by the runner.
public final class JobProgress: ProgressReporter {
    public let id: String
    private let state = Mutex<(step: String?, done: Int64, total: Int64)>((nil, 0, 0))

    init(id: String) {
        self.id = id
    }

    public func progress(label: String, done: Int64, total: Int64) {
        state.withLock { $0.done = done; $0.total = total }
    }

    public func finished(label: String) {}

    public func step(_ name: String) {
        state.withLock { $0 = (name, 0, 0) }
    }

    func apply(to job: inout Job) {
        let current = state.withLock { $0 }
        if let step = current.step { job.step = step }
        job.progressBytes = current.done
        job.totalBytes = current.total
    }
}
