import Foundation
import Logging
import NodeControl

/// Records, in the state folder, the command a restore is running (`redis.start`, `dynomite.stop`, …): a restore
/// that is killed leaves its command running in a session of its own, and a `redis.start` that goes on could
/// start Redis in the middle of the next restore. The next restore, resume or rollback stops it first.
struct CommandTracker: ChildProcess.Observer {
    struct Record: Codable {
        var pid: Int32
        /// The process's start time in clock ticks (`/proc/PID/stat`), so that a reused pid is never killed.
        var startTicks: String
        var executable: String
    }

    let path: String

    init(_ folders: NodeFolders) { path = folders.state + "/running-command.json" }

    func started(pid: Int32, executable: String) {
        guard let ticks = Self.startTicks(pid),
            let data = try? JSONEncoder.dynokeeper.encode(Record(pid: pid, startTicks: ticks, executable: executable))
        else { return }
        _ = FileManager.default.createFile(atPath: path, contents: data, attributes: [.posixPermissions: 0o600])
    }

    func finished(pid: Int32) {
        unlink(path)
    }

    /// Stops the process group of a command a killed restore left running, if it still runs.
    func stopLeftover(logger: Logger) {
        guard let data = FileManager.default.contents(atPath: path) else { return }
        defer { unlink(path) }
        guard let record = try? JSONDecoder.dynokeeper.decode(Record.self, from: data), record.pid > 1,
            Self.startTicks(record.pid) == record.startTicks
        else { return }
        logger.notice("stopping the command (process group \(record.pid)) that an interrupted restore left running")
        kill(-record.pid, SIGKILL)
        kill(record.pid, SIGKILL)
    }

    /// Field 22 of `/proc/PID/stat`: when the process started.
    static func startTicks(_ pid: pid_t) -> String? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let fields = stat.split(separator: ")").last?.split(separator: " "), fields.count > 19
        else { return nil }
        return String(fields[19])
    }
}
