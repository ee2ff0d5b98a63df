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
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("dynokeeper-cmd-\(UUID().uuidString)")
        try Data().write(to: output)
        defer { try? FileManager.default.removeItem(at: output) }
        let handle = try FileHandle(forWritingTo: output)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            try? handle.close()
            throw NodeControlError("\(self) could not be started: \(error)")
        }
        try? handle.close()
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now > deadline {
                process.terminate()
                process.waitUntilExit()
                throw NodeControlError("\(self) did not finish within \(timeout)")
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        guard process.terminationStatus == 0 else {
            let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
            let tail = text.split(separator: "\n").suffix(5).joined(separator: " | ")
            throw NodeControlError("\(self) exited with status \(process.terminationStatus)\(tail.isEmpty ? "" : ": \(tail)")")
        }
    }
}

/// A node process could not be stopped, started or reached as expected.
public struct NodeControlError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
