/// Exponential backoff with full jitter for transient failures.
public struct RetryPolicy: Sendable {
    /// How many times an operation runs at most, the first try included.
    public var maxAttempts: Int
    public var baseDelay: Duration
    public var maxDelay: Duration

    /// - Parameters:
    ///   - maxAttempts: Tries in all, at least 1.
    ///   - baseDelay: The upper bound of the first wait; it doubles with each retry.
    ///   - maxDelay: The longest wait.
    public init(maxAttempts: Int = 5, baseDelay: Duration = .milliseconds(200), maxDelay: Duration = .seconds(10)) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    /// No retries at all.
    public static let none = RetryPolicy(maxAttempts: 1)

    /// The wait before retry number `retry` (0-based): uniformly random up to `min(maxDelay, base × 2^retry)`.
    public func delay(beforeRetry retry: Int) -> Duration {
        let cap = min(maxDelay, baseDelay * (1 << min(retry, 20)))
        let nanoseconds = cap.components.seconds * 1_000_000_000 + cap.components.attoseconds / 1_000_000_000
        return .nanoseconds(Int64.random(in: 0...max(0, nanoseconds)))
    }

    /// Runs an operation, retrying it while it fails with an error that `isRetryable` accepts.
    /// - Parameters:
    ///   - isRetryable: Which errors are worth another try.
    ///   - onRetry: Called before each wait, for logging.
    ///   - operation: The work; it must be safe to repeat.
    public func run<T>(
        isRetryable: (any Error) -> Bool = { ($0 as? ObjectStoreError)?.isRetryable ?? false },
        onRetry: (_ error: any Error, _ attempt: Int, _ delay: Duration) -> Void = { _, _, _ in },
        _ operation: () async throws -> T
    ) async throws -> T {
        var attempt = 1
        while true {
            do {
                return try await operation()
            } catch {
                guard attempt < maxAttempts, isRetryable(error), !Task.isCancelled else { throw error }
                let wait = delay(beforeRetry: attempt - 1)
                onRetry(error, attempt, wait)
                try await Task.sleep(for: wait)
                attempt += 1
            }
        }
    }
}
