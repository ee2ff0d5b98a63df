package import Foundation
import NodeControl

/// What a finished child process left behind.
package struct ProcessResult: Sendable {
    package var status: Int32
    package var stdout: Data
    package var stderr: Data

    package var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    package var stderrText: String { String(decoding: stderr, as: UTF8.self) }
}

/// Errors of the test helpers; their messages say what to look at.
package struct TestSupportError: Error, CustomStringConvertible {
    package var description: String
    package init(_ description: String) { self.description = description }
}

/// Runs commands to completion, with a timeout, capturing their output in temporary files
/// (pipes would block a child that writes more than a pipe holds while nobody reads).
package enum ProcessRunner {
    /// Runs a program found on `PATH` (or given by absolute path) and waits for it.
    /// - Parameters:
    ///   - executable: The program, such as `aws` or `/usr/bin/redis-cli`.
    ///   - arguments: Its arguments.
    ///   - input: What to give it on standard input.
    ///   - environment: Variables to set on top of the current environment (`nil` values remove one).
    ///   - currentDirectory: Where to run it.
    ///   - timeout: How long to wait before killing it; the run then fails.
    package static func run(
        _ executable: String,
        _ arguments: [String],
        input: Data? = nil,
        environment: [String: String?] = [:],
        currentDirectory: String? = nil,
        timeout: Duration = .seconds(120)
    ) async throws -> ProcessResult {
        let scratch = try TemporaryDirectory(prefix: "run")
        defer { scratch.remove() }
        var inputPath: String?
        if let input {
            inputPath = scratch.file("stdin")
            try input.write(to: URL(fileURLWithPath: inputPath!))
        }
        // Standard error goes to its own file through the shell, so that tests can tell the streams apart.
        let quoted = ([executable] + arguments).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        let script = "exec " + quoted.joined(separator: " ") + " 2>'\(scratch.file("stderr"))'"
        let result = try await ChildProcess.run(
            "/bin/sh", ["-c", script], environment: mergedEnvironment(environment), directory: currentDirectory,
            input: inputPath, timeout: timeout)
        return ProcessResult(
            status: result.status, stdout: result.data,
            stderr: FileManager.default.contents(atPath: scratch.file("stderr")) ?? Data())
    }

    /// Runs a command and fails unless it exits with status 0.
    @discardableResult
    package static func check(
        _ executable: String,
        _ arguments: [String],
        input: Data? = nil,
        environment: [String: String?] = [:],
        currentDirectory: String? = nil,
        timeout: Duration = .seconds(120)
    ) async throws -> ProcessResult {
        let result = try await run(
            executable, arguments, input: input, environment: environment,
            currentDirectory: currentDirectory, timeout: timeout)
        guard result.status == 0 else {
            throw TestSupportError(
                "\(executable) \(arguments.joined(separator: " ")) exited with \(result.status): \(result.stderrText)\(result.stdoutText)"
            )
        }
        return result
    }

    static func mergedEnvironment(_ overrides: [String: String?]) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        for (name, value) in overrides {
            environment[name] = value
        }
        return environment
    }
}
