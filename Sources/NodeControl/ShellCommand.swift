import Foundation

/// A command from the configuration (`redis.start`, `dynomite.stop`, …), run by `/bin/sh -c`.
///
/// It runs with a minimal environment (``baseVariables`` plus the names the configuration lists), never
/// dynokeeper's own: that holds the store's credentials and the API token, which a start script has no use for
/// and could leak into logs or `ps e`.
package struct ShellCommand: Sendable, CustomStringConvertible {
    package let command: String
    /// The configuration key it came from, for messages.
    package let key: String
    /// Environment variables passed on besides ``baseVariables`` (`node.command_environment`).
    package let passing: [String]

    /// What every command gets from dynokeeper's environment, when set.
    package static let baseVariables = [
        "PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR",
    ]

    package init(_ command: String, key: String, passing: [String] = []) {
        self.command = command
        self.key = key
        self.passing = passing
    }

    /// The configuration key only: the command text may hold a password (`redis-cli -a …`), and errors go to logs,
    /// the journal and the API.
    package var description: String { key }

    /// The environment the command runs with, taken from `environment`.
    package func environment(
        from environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> [String: String] {
        Self.minimalEnvironment(passing: passing, from: environment)
    }

    /// ``baseVariables`` and `passing` from `environment`, and a default `PATH`: what any program dynokeeper starts
    /// gets (commands, a verification's redis-server), never the store's credentials or the API token.
    package static func minimalEnvironment(
        passing: [String] = [], from environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> [String: String] {
        var result: [String: String] = [:]
        for name in baseVariables + passing {
            if let value = environment[name] { result[name] = value }
        }
        if result["PATH"] == nil { result["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" }
        return result
    }

    /// Runs the command to completion.
    /// - Parameter timeout: How long it may take; it is killed after that.
    /// - Throws: ``NodeControlError`` with the exit status and the end of its output when it fails.
    package func run(timeout: Duration) async throws {
        let result: ChildProcess.Result
        do {
            result = try await ChildProcess.run(
                "/bin/sh", ["-c", command], environment: environment(), timeout: timeout)
        } catch let error as NodeControlError where error.description.contains("did not finish within") {
            throw NodeControlError(
                "\(key) did not finish within \(timeout) and was killed: it must start or stop the process and return (redis-server with daemonize yes, systemctl start …), not run it in the foreground"
            )
        }
        guard result.status == 0 else {
            let tail = result.output.split(separator: "\n").suffix(5).joined(separator: " | ")
            throw NodeControlError("\(self) exited with status \(result.status)\(tail.isEmpty ? "" : ": \(tail)")")
        }
    }
}

/// A node process could not be stopped, started or reached as expected.
package struct NodeControlError: Error, Sendable, CustomStringConvertible {
    package var description: String
    package init(_ description: String) { self.description = description }
}
