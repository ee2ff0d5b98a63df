import Foundation
import Synchronization

/// A test hook: with `DYNOKEEPER_TEST_KILL_AT=N` in its environment, dynokeeper kills itself with SIGKILL right
/// after its N-th durable write of a restore journal (or the end of a point-in-time replay's feed, Redis then a replica
/// of a feed that is gone). Tests use it to interrupt a restore (and its rollback) at
/// every step boundary exactly as kill -9 would, then check that status, resume and rollback recover.
enum CrashPoint {
    static let variable = "DYNOKEEPER_TEST_KILL_AT"
    static let target: Int? = ProcessInfo.processInfo.environment[variable].flatMap { Int($0) }
    static let saves = Atomic<Int>(0)

    static func journalSaved() {
        guard let target else { return }
        if saves.add(1, ordering: .relaxed).newValue == target {
            kill(getpid(), SIGKILL)
        }
    }
}
