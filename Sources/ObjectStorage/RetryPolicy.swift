import Synchronization

/// Exponential backoff with full jitter for transient failures, as AWS SDKs' standard mode does, with a longer
/// tail: an operation is retried up to `maxAttempts` times, but never beyond `giveUpAfter` since its first
/// failure, so that a store that only answers errors fails in bounded time while a passing fault does not fail
/// a transfer. Streaming transfers that make progress between failures start counting again (``RetryState``).
package struct RetryPolicy: Sendable {
    /// How many times an operation runs at most without progress, the first try included.
    package var maxAttempts: Int
    package var baseDelay: Duration
    package var maxDelay: Duration
    /// How long after its first failure an operation is given up, whatever `maxAttempts` says; `nil`: no limit.
    package var giveUpAfter: Duration?

    /// - Parameters:
    ///   - maxAttempts: Tries in all, at least 1 (`storage.max_attempts`).
    ///   - baseDelay: The upper bound of the first wait; it doubles with each retry.
    ///   - maxDelay: The longest wait.
    ///   - giveUpAfter: The time after the first failure past which no retry starts (`storage.give_up_after_seconds`).
    package init(
        maxAttempts: Int = 10, baseDelay: Duration = .milliseconds(200), maxDelay: Duration = .seconds(20),
        giveUpAfter: Duration? = .seconds(120)
    ) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.giveUpAfter = giveUpAfter
    }

    /// No retries at all.
    package static let none = RetryPolicy(maxAttempts: 1)

    /// The wait before retry number `retry` (0-based): uniformly random up to `min(maxDelay, base × 2^retry)`.
    package func delay(beforeRetry retry: Int) -> Duration {
        let cap = max(.zero, min(maxDelay, baseDelay * (1 << min(retry, 20))))
        // `Duration * Double` goes through a Double, which may round a few attoseconds past the cap.
        return min(cap, cap * Double.random(in: 0...1))
    }

    /// Runs an operation, retrying it while it fails with an error that `isRetryable` accepts.
    /// - Parameters:
    ///   - isRetryable: Which errors are worth another try.
    ///   - progress: The transfer's progress so far (such as parts done), for an operation that is one piece of
    ///     it: when it moved since the operation's last failure, the failures so far no longer count, so that a
    ///     transfer that keeps moving never fails on transient errors.
    ///   - onRetry: Called before each wait, for logging.
    ///   - operation: The work; it must be safe to repeat.
    package func run<T>(
        isRetryable: (any Error) -> Bool = { ($0 as? ObjectStoreError)?.isRetryable ?? false },
        progress: TransferProgressCount? = nil,
        onRetry: (_ error: any Error, _ attempt: Int, _ delay: Duration) -> Void = { _, _, _ in },
        _ operation: () async throws -> T
    ) async throws -> T {
        var state = RetryState(self)
        var seen = progress?.value ?? 0
        while true {
            do {
                return try await operation()
            } catch {
                guard isRetryable(error), !Task.isCancelled else { throw error }
                if let now = progress?.value, now != seen {
                    seen = now
                    state.madeProgress()
                }
                let wait = try state.failed(error)
                onRetry(error, state.attempts, wait)
                try await Task.sleep(for: wait)
            }
        }
    }
}

/// The retries of one operation so far: how many failures in a row, and since when.
package struct RetryState: Sendable {
    package let policy: RetryPolicy
    /// Failures since the last progress.
    package private(set) var attempts = 0
    private var firstFailure: ContinuousClock.Instant?

    package init(_ policy: RetryPolicy) { self.policy = policy }

    /// Records a retryable failure.
    /// - Returns: How long to wait before the next try.
    /// - Throws: The error, saying that it was given up on, when the attempts or the time are used up.
    package mutating func failed(_ error: any Error) throws -> Duration {
        attempts += 1
        let now = ContinuousClock.now
        let since = firstFailure ?? now
        firstFailure = since
        let elapsed = now - since
        let outOfTime = policy.giveUpAfter.map { elapsed >= $0 } ?? false
        guard attempts < policy.maxAttempts, !outOfTime else {
            let note = "gave up after \(attempts) failed attempt(s) in \(Int((elapsed / .seconds(1)).rounded())) s"
            if let error = error as? ObjectStoreError {
                throw ObjectStoreError(error.code, "\(error.message) (\(note))", key: error.key)
            }
            throw error
        }
        var wait = policy.delay(beforeRetry: attempts - 1)
        if let limit = policy.giveUpAfter, elapsed + wait > limit { wait = max(.zero, limit - elapsed) }
        return wait
    }

    /// The operation moved forward (bytes arrived): its failures so far no longer count.
    package mutating func madeProgress() {
        attempts = 0
        firstFailure = nil
    }
}

/// How far a transfer made of several operations got (such as the parts of a multipart upload done), shared by
/// its operations' retries (``RetryPolicy/run(isRetryable:progress:onRetry:_:)``).
package final class TransferProgressCount: Sendable {
    private let count = Mutex(0)

    package init() {}

    package var value: Int { count.withLock { $0 } }

    package func advance() { count.withLock { $0 += 1 } }
}
