package import Foundation

/// A record a ``JobQueue`` keeps: a node job or a ring job.
package protocol QueuedJob: Sendable {
    associatedtype Output: Sendable
    var id: String { get }
    var isFinished: Bool { get }
    /// How a second request names this one while it runs.
    var runningDescription: String { get }
    /// Records the outcome of the work.
    mutating func finish(_ outcome: Result<Output, DynokeeperError>, at date: Date)
}

/// One job at a time, the recent ones kept for the API, waiters for their end, and a graceful shutdown: no new
/// jobs, the running one cancelled or waited for as it asked.
package actor JobQueue<Record: QueuedJob> {
    private struct Running {
        var id: String
        var task: Task<Void, Never>
        var cancelOnShutdown: Bool
        /// Brings a running job's live fields (step, progress) into its record when it is read.
        var live: (@Sendable (inout Record) -> Void)?
    }

    private var records: [Record] = []
    private var running: Running?
    private var accepting = true
    private var waiters: [String: [CheckedContinuation<Record, Never>]] = [:]
    private var counter = 0
    private let keep: Int
    private let finished: (@Sendable (Record) -> Void)?

    /// - Parameters:
    ///   - keep: How many finished jobs are kept.
    ///   - finished: Called with each job as it ends (logs, metrics).
    package init(keep: Int, finished: (@Sendable (Record) -> Void)? = nil) {
        self.keep = keep
        self.finished = finished
    }

    /// Fails when a job runs or the queue is shutting down, so that a request can be refused before it takes
    /// anything else (such as the node lock).
    package func ensureIdle() throws(DynokeeperError) {
        guard accepting else {
            throw DynokeeperError(.shuttingDown, "dynokeeper is shutting down and starts no new jobs")
        }
        if let running, let current = job(running.id) { throw DynokeeperError(.jobRunning, current.runningDescription) }
    }

    /// Starts a job now.
    /// - Parameters:
    ///   - make: Builds the record from the job's sequence number and start time.
    ///   - cancelOnShutdown: Cancel the work on shutdown (a backup), or wait for it (a restore).
    ///   - live: Brings the running job's live fields into its record.
    ///   - work: The job; what it returns or throws is recorded.
    /// - Throws: `job_running` or `shutting_down`.
    package func start(
        _ make: (_ sequence: Int, _ now: Date) -> Record, cancelOnShutdown: Bool,
        live: (@Sendable (inout Record) -> Void)? = nil, work: @escaping @Sendable () async throws -> Record.Output
    ) throws(DynokeeperError) -> Record {
        try ensureIdle()
        counter += 1
        let record = make(counter, Date())
        records.append(record)
        if records.count > keep { records.removeFirst(records.count - keep) }
        let id = record.id
        let task = Task {
            let outcome: Result<Record.Output, DynokeeperError>
            do { outcome = .success(try await work()) } catch { outcome = .failure(DynokeeperError(error)) }
            self.finish(id, outcome)
        }
        running = Running(id: id, task: task, cancelOnShutdown: cancelOnShutdown, live: live)
        return job(id) ?? record
    }

    private func finish(_ id: String, _ outcome: Result<Record.Output, DynokeeperError>) {
        guard let index = records.firstIndex(where: { $0.id == id }) else { return }
        if let running, running.id == id { running.live?(&records[index]) }
        records[index].finish(outcome, at: Date())
        if running?.id == id { running = nil }
        finished?(records[index])
        for waiter in waiters.removeValue(forKey: id) ?? [] { waiter.resume(returning: records[index]) }
    }

    /// A job as it is now, with the live fields of a running one.
    package func job(_ id: String) -> Record? {
        guard var record = records.first(where: { $0.id == id }) else { return nil }
        if let running, running.id == id { running.live?(&record) }
        return record
    }

    /// The recent jobs, newest first.
    package func list() -> [Record] { records.reversed().compactMap { job($0.id) } }

    /// The job running now, if any.
    package func current() -> Record? { running.flatMap { job($0.id) } }

    /// The newest finished job that matches.
    package func lastFinished(where matches: (Record) -> Bool) -> Record? {
        records.last { $0.isFinished && matches($0) }
    }

    /// Waits until a job has finished.
    package func wait(_ id: String) async -> Record? {
        guard let record = job(id) else { return nil }
        if record.isFinished { return record }
        return await withCheckedContinuation { waiters[id, default: []].append($0) }
    }

    /// Stops taking jobs; cancels the running one or waits for it, as it was started.
    /// - Parameter announce: Told what happens to the running job (for the log).
    package func shutdown(announce: (_ id: String, _ cancelling: Bool) -> Void = { _, _ in }) async {
        accepting = false
        guard let running else { return }
        announce(running.id, running.cancelOnShutdown)
        if running.cancelOnShutdown { running.task.cancel() }
        await running.task.value
    }
}
