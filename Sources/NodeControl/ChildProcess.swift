// Why the C shim (CLibcShims/spawn.c) and not swift-subprocess, checked against swift-subprocess 1.0.2: it has most
// of what the shim does: no inherited descriptors (posix_spawn_file_actions_addclosefrom_np, or close_range in its
// fork/exec path), a session of the child's own (`PlatformOptions.createSession`), signals reset, output to a file
// (`.fileDescriptor(_:closeAfterSpawningProcess:)`, so a daemon holds no pipe we wait on) and a kill of the group
// (`Execution.send(signal:toProcessGroup:)`). It lacks the paused spawn: `run(…)` hands its body the `Execution`
// (and `processIdentifier`) only once the child runs the program, and on Linux `PlatformOptions` has no
// pre-spawn hook (`preSpawnProcessConfigurator` is Darwin-only), so `CommandTracker` could not record the pid first.
import CLibcShims
package import Foundation

/// Runs programs to completion with a timeout, capturing their output in a file.
///
/// Children inherit nothing but their standard streams (see `dynokeeper_spawn_paused`), so a daemon started by a
/// command, such as `redis-server --daemonize yes`, neither holds dynokeeper's sockets nor keeps it waiting.
package enum ChildProcess {
    /// Told when a child starts and when it has finished, for the children of the task that sets it (a restore
    /// records the command it runs, so that one left running by a killed restore can be stopped later).
    package protocol Observer: Sendable {
        func started(pid: Int32, executable: String)
        func finished(pid: Int32)
    }

    @TaskLocal package static var observer: (any Observer)?

    package struct Result: Sendable {
        package var status: Int32
        /// Standard output and error, interleaved.
        package var data: Data
        /// The same, as text.
        package var output: String { String(decoding: data, as: UTF8.self) }
    }

    /// Runs a program and waits for it.
    /// - Parameters:
    ///   - executable: An absolute path, or a name looked up on `PATH`.
    ///   - arguments: Its arguments.
    ///   - environment: Its environment (the current one by default).
    ///   - directory: Its working directory.
    ///   - input: A file to read standard input from.
    ///   - timeout: How long it may run; its process group is killed after that.
    package static func run(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil, directory: String? = nil,
        input: String? = nil, timeout: Duration
    ) async throws -> Result {
        let path = try resolve(executable)
        let outputPath = FileManager.default.temporaryDirectory.appendingPathComponent(
            "dynokeeper-\(UUID().uuidString).out"
        ).path
        defer { unlink(outputPath) }
        let environment = environment ?? ProcessInfo.processInfo.environment
        var control: [Int32] = [-1, -1]
        let pid = try withCStrings([path] + arguments) { argv in
            try withCStrings(environment.map { "\($0.key)=\($0.value)" }) { envp in
                var pid: pid_t = 0
                let error = dynokeeper_spawn_paused(path, argv, envp, directory, input, outputPath, &pid, &control)
                guard error == 0 else {
                    throw NodeControlError("cannot start \(executable): \(String(cString: strerror(error)))")
                }
                return pid
            }
        }
        // Recorded before the child runs anything: a command can never outlive a record of it.
        let observer = Self.observer
        observer?.started(pid: pid, executable: executable)
        defer { observer?.finished(pid: pid) }
        let released = dynokeeper_spawn_release(pid, control)
        guard released == 0 else {
            throw NodeControlError("cannot start \(executable): \(String(cString: strerror(released)))")
        }
        let deadline = ContinuousClock.now + timeout
        var status: Int32 = 0
        while true {
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid { break }
            if reaped < 0 && errno != EINTR {
                throw NodeControlError("waiting for \(executable): \(String(cString: strerror(errno)))")
            }
            if ContinuousClock.now > deadline {
                kill(-pid, SIGKILL)
                kill(pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                throw NodeControlError("\(executable) did not finish within \(timeout)")
            }
            try? await Task.sleep(for: .milliseconds(10))
        }
        let output = FileManager.default.contents(atPath: outputPath) ?? Data()
        // WIFEXITED / WEXITSTATUS, which Swift does not import as macros.
        let exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return Result(status: exitStatus, data: output)
    }

    /// The path of a program: as given when it has a `/`, else the first executable of that name on `PATH`.
    package static func resolve(_ executable: String) throws -> String {
        if executable.contains("/") { return executable }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for folder in path.split(separator: ":") where access("\(folder)/\(executable)", X_OK) == 0 {
            return "\(folder)/\(executable)"
        }
        throw NodeControlError("\(executable) is not installed (not found on PATH)")
    }

    /// Calls `body` with a NULL-terminated array of C strings.
    static func withCStrings<T>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) throws -> T) rethrows -> T
    {
        let pointers = strings.map { strdup($0) } + [nil]
        defer { for pointer in pointers { free(pointer) } }
        return try body(pointers)
    }
}
