import ObjectStorage
import Testing

@Suite struct RetryPolicyTests {
    final class Counter: @unchecked Sendable {
        var count = 0
    }

    @Test func retriesTransientFailuresUntilSuccess() async throws {
        let counter = Counter()
        var retries: [Int] = []
        let policy = RetryPolicy(maxAttempts: 4, baseDelay: .milliseconds(1), maxDelay: .milliseconds(5))
        let value = try await policy.run(onRetry: { _, attempt, _ in retries.append(attempt) }) {
            counter.count += 1
            if counter.count < 3 { throw ObjectStoreError(.unavailable, "flaky") }
            return "done"
        }
        #expect(value == "done")
        #expect(counter.count == 3)
        #expect(retries == [1, 2])
    }

    @Test func givesUpAfterMaxAttemptsWithTheLastError() async throws {
        let counter = Counter()
        let policy = RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(1))
        let error = await #expect(throws: ObjectStoreError.self) {
            try await policy.run { () throws -> Int in
                counter.count += 1
                throw ObjectStoreError(.throttled, "slow down \(counter.count)")
            }
        }
        #expect(counter.count == 3)
        #expect(
            error?.message.hasPrefix("slow down 3 (gave up after 3 failed attempt(s) in ") == true,
            "\(String(describing: error))")
    }

    @Test func doesNotRetryPermanentFailures() async throws {
        let counter = Counter()
        await #expect(throws: ObjectStoreError.self) {
            try await RetryPolicy(maxAttempts: 5, baseDelay: .milliseconds(1)).run { () throws -> Int in
                counter.count += 1
                throw ObjectStoreError(.accessDenied, "no")
            }
        }
        #expect(counter.count == 1)
    }

    @Test func delaysAreBoundedByTheDoublingCap() {
        let policy = RetryPolicy(maxAttempts: 10, baseDelay: .milliseconds(100), maxDelay: .seconds(1))
        for retry in 0..<10 {
            let cap = min(Duration.seconds(1), .milliseconds(100) * (1 << retry))
            for _ in 0..<50 {
                let delay = policy.delay(beforeRetry: retry)
                #expect(delay >= .zero && delay <= cap)
            }
        }
    }
}
