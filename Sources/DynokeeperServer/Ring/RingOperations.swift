public import Foundation
public import Logging

/// Ring backups and restores started through the API: one at a time, kept for `GET /v1/ring/jobs`. They do
/// not hold this node's job slot, since the coordinator asks this node (among the others) for its own backup.
public actor RingOperations {
    public struct RingJob: Sendable, Codable {
        public var id: String
        public var kind: String
        public var state: Job.State
        public var trigger: String
        public var createdAt: Date
        public var finishedAt: Date?
        public var report: RingCoordinator.Report?
        public var error: String?
    }

    private var jobs: [RingJob] = []
    private var running: (id: String, task: Task<Void, Never>)?
    private var waiters: [String: [CheckedContinuation<RingJob, Never>]] = [:]
    private var counter = 0
    private var accepting = true
    let logger: Logger

    public init(logger: Logger) { self.logger = logger }

    /// Starts a ring operation.
    /// - Throws: ``JobConflict`` when one already runs.
    public func start(
        _ kind: String, trigger: String, work: @escaping @Sendable () async throws -> RingCoordinator.Report
    ) throws(JobConflict) -> RingJob {
        guard accepting else { throw JobConflict(message: "dynokeeper is shutting down and starts no new jobs", running: nil) }
        if let running { throw JobConflict(message: "a ring job (\(running.id)) is already running", running: nil) }
        counter += 1
        let id = "ring-\(kind)-\(Int(Date().timeIntervalSince1970))-\(counter)"
        let job = RingJob(id: id, kind: kind, state: .running, trigger: trigger, createdAt: Date())
        jobs.append(job)
        if jobs.count > 50 { jobs.removeFirst() }
        let task = Task {
            do {
                self.finish(id, report: try await work(), error: nil)
            } catch {
                self.finish(id, report: nil, error: error)
            }
        }
        running = (id, task)
        logger.info("ring job \(id) started by \(trigger)")
        return job
    }

    private func finish(_ id: String, report: RingCoordinator.Report?, error: (any Error)?) {
        guard let index = jobs.firstIndex(where: { $0.id == id }) else { return }
        jobs[index].finishedAt = Date()
        jobs[index].report = report
        jobs[index].error = error.map { "\($0)" } ?? report?.error
        jobs[index].state = report?.succeeded == true ? .succeeded : .failed
        logger.info("ring job \(id) \(jobs[index].state.rawValue)\(jobs[index].error.map { ": \($0)" } ?? "")")
        if running?.id == id { running = nil }
        for waiter in waiters.removeValue(forKey: id) ?? [] { waiter.resume(returning: jobs[index]) }
    }

    public func job(_ id: String) -> RingJob? { jobs.first { $0.id == id } }

    public func list() -> [RingJob] { jobs.reversed() }

    public func wait(_ id: String) async -> RingJob? {
        guard let job = job(id) else { return nil }
        if job.state != .running { return job }
        return await withCheckedContinuation { waiters[id, default: []].append($0) }
    }

    /// Stops taking ring jobs and waits for the running one (its restores are not to be left half-way).
    public func shutdown() async {
        accepting = false
        await running?.task.value
    }
}
