import Foundation

/// A thread-safe call counter for scripted servers.
package final class CallCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0

    package init() {}

    /// The calls so far.
    package var count: Int { lock.withLock { value } }

    /// Increments and returns the new count (1 for the first call).
    package func next() -> Int {
        lock.withLock {
            value += 1; return value
        }
    }
}
