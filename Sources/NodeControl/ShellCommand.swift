import Foundation

/// A command from the configuration (`redis.start`, `dynomite.stop`, …), run by `/bin/sh -c`.
public struct ShellCommand: Sendable, CustomStringConvertible {
    public let command: String
    /// The configuration key it came from, for messages.
    public let key: String

    public init(_ command: String, key: String) {
        self.command = command
        self.key = key
    }

    public var description: String { "\(key) (\(command))" }

    /// Runs the command to completion.
    /// - Parameter timeout: How long it may take; it is killed after that.
    /// - Throws: ``NodeControlError`` with the exit status and the end of its output when it fails.
    public func run(timeout: Duration) async throws {
        let result = try await ChildProcess.run("/bin/sh", ["-c", command], timeout: timeout)
        guard result.status == 0 else {
            let tail = result.output.split(separator: "\n").suffix(5).joined(separator: " | ")
            throw NodeControlError("\(self) exited with status \(result.status)\(tail.isEmpty ? "" : ": \(tail)")")
        }
    }
}

/// A node process could not be stopped, started or reached as expected.
public struct NodeControlError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
