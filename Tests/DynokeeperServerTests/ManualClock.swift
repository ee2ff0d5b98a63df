import DynokeeperServer
import Foundation
import Synchronization

/// A scheduler clock that moves only when the test says: schedules fire without the test sleeping.
final class ManualClock: SchedulerClock {
    private struct Sleeper {
        var id: Int
        var until: Date
        var continuation: CheckedContinuation<Void, any Error>
    }

    private let state: Mutex<(now: Date, sleepers: [Sleeper], next: Int)>

    init(_ now: Date) { state = Mutex((now, [], 0)) }

    func now() -> Date { state.withLock { $0.now } }

    /// How many sleeps wait for the clock.
    var sleeping: Int { state.withLock { $0.sleepers.count } }

    func sleep(until date: Date) async throws {
        let id = state.withLock { state -> Int in
            state.next += 1
            return state.next
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let ready = state.withLock { state -> Bool in
                    if date <= state.now || Task.isCancelled { return true }
                    state.sleepers.append(Sleeper(id: id, until: date, continuation: continuation))
                    return false
                }
                if ready { continuation.resume() }
            }
            try Task.checkCancellation()
        } onCancel: {
            let sleeper = state.withLock { state -> Sleeper? in
                guard let index = state.sleepers.firstIndex(where: { $0.id == id }) else { return nil }
                return state.sleepers.remove(at: index)
            }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves the clock and wakes the sleeps that are due.
    func advance(to date: Date) {
        let due = state.withLock { state -> [Sleeper] in
            state.now = date
            let due = state.sleepers.filter { $0.until <= date }
            state.sleepers.removeAll { $0.until <= date }
            return due
        }
        for sleeper in due { sleeper.continuation.resume() }
    }
}
