package import Foundation

/// The wall clock the scheduler reads and sleeps on; tests give it a clock they move by hand.
package protocol SchedulerClock: Sendable {
    func now() -> Date
    /// Sleeps until `date` (or returns at once when it has passed); throws when the task is cancelled.
    func sleep(until date: Date) async throws
}

/// The system clock.
package struct SystemSchedulerClock: SchedulerClock {
    package init() {}

    package func now() -> Date { Date() }

    package func sleep(until date: Date) async throws {
        let seconds = date.timeIntervalSinceNow
        if seconds > 0 { try await Task.sleep(for: .milliseconds(Int64(seconds * 1000))) }
    }
}
