import Foundation
import NodeControl

/// A long-running child process (a server) that a test starts and stops by PID.
///
/// Every started process is also remembered in a registry that kills it when the test process exits,
/// so a failing test does not leave servers behind.
package final class BackgroundProcess: @unchecked Sendable {
    package let pid: Int32
    package let logPath: String
    private let process: Process

    /// Starts a program with its output appended to `logPath`.
    /// - Parameters:
    ///   - executable: The program, looked up on `PATH` unless absolute.
    ///   - arguments: Its arguments.
    ///   - logPath: Where its standard output and error go.
    ///   - environment: Extra variables.
    ///   - currentDirectory: Where it runs.
    package init(
        _ executable: String, _ arguments: [String], logPath: String,
        environment: [String: String?] = [:], currentDirectory: String? = nil
    ) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Self.resolve(executable))
        process.arguments = arguments
        process.environment = ProcessRunner.mergedEnvironment(environment)
        if let currentDirectory { process.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }
        try Data().write(to: URL(fileURLWithPath: logPath))
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        try? log.close()
        self.process = process
        self.pid = process.processIdentifier
        self.logPath = logPath
        ProcessRegistry.shared.add(pid)
    }

    package var isRunning: Bool { process.isRunning }

    /// The last lines the process wrote, for error messages.
    package func logTail(lines: Int = 30) -> String {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    /// Sends SIGTERM, waits up to `grace`, then SIGKILL.
    package func stop(grace: Duration = .seconds(10)) async {
        defer { ProcessRegistry.shared.remove(pid) }
        guard process.isRunning else { return }
        kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + grace
        while process.isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        if process.isRunning {
            kill(pid, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// Waits until a condition holds, failing with the process's log after `timeout`.
    package func waitUntil(
        _ what: String, timeout: Duration = .seconds(30), _ condition: () async -> Bool
    ) async throws {
        let deadline = ContinuousClock.now + timeout
        // Checked after every sleep, the last one too: a test task kept waiting past the deadline by a busy
        // machine still sees what happened meanwhile.
        while true {
            if await condition() { return }
            if !process.isRunning {
                throw TestSupportError("process \(pid) exited before \(what):\n\(logTail())")
            }
            guard ContinuousClock.now < deadline else { break }
            try await Task.sleep(for: .milliseconds(25))
        }
        throw TestSupportError("timed out after \(timeout) waiting for \(what):\n\(logTail())")
    }

    static func resolve(_ executable: String) throws -> String {
        do {
            return try ChildProcess.resolve(executable)
        } catch {
            throw TestSupportError(
                "\(executable) is not installed (not found on PATH); run `make test`, which installs it")
        }
    }
}

/// PIDs of the servers tests started, killed at exit if a test did not stop them.
final class ProcessRegistry: @unchecked Sendable {
    static let shared = ProcessRegistry()
    private let lock = NSLock()
    private var pids: Set<Int32> = []
    private var cleanups: [@Sendable () -> Void] = []

    private init() {
        atexit {
            // Politely first, so that servers remove their sockets; then for sure.
            let registry = ProcessRegistry.shared
            // Only our own children: a pid that exited may belong to someone else by now.
            let pids = registry.snapshot().filter { parent(of: $0) == getpid() }
            for pid in pids { kill(pid, SIGTERM) }
            for _ in 0..<100 where pids.contains(where: { kill($0, 0) == 0 && !isZombie($0) }) { usleep(50_000) }
            for pid in pids { kill(pid, SIGKILL) }
            for cleanup in registry.lock.withLock({ registry.cleanups }) { cleanup() }
        }
    }

    /// Work to do at exit after the processes are killed, such as removing their folders.
    func addCleanup(_ cleanup: @escaping @Sendable () -> Void) { lock.withLock { cleanups.append(cleanup) } }

    func add(_ pid: Int32) { lock.withLock { _ = pids.insert(pid) } }
    func remove(_ pid: Int32) { lock.withLock { _ = pids.remove(pid) } }
    func snapshot() -> Set<Int32> { lock.withLock { pids } }
}

/// The parent of a process, from /proc.
private func parent(of pid: Int32) -> Int32? {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let fields = status.split(separator: ")").last?.split(separator: " "), fields.count > 2
    else { return nil }
    return Int32(fields[1])
}

/// Whether a child has exited but not been reaped (it then still answers `kill(pid, 0)`).
private func isZombie(_ pid: Int32) -> Bool {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
    return status.split(separator: ")").last?.split(separator: " ").first == "Z"
}

extension BackgroundProcess: TestResource {
    /// Stops it (``stop(grace:)``).
    package func close() async { await stop() }
}
