import DynokeeperEngine
import Foundation
import Synchronization

/// Shows transfer progress on one terminal line (bytes, rate, ETA), a few times a second; silent when
/// standard error is not a terminal, where the logs tell the story.
final class TerminalProgress: ProgressReporter {
    private struct State {
        var started: [String: ContinuousClock.Instant] = [:]
        var lastDraw: ContinuousClock.Instant?
    }

    private let state = Mutex(State())

    /// A reporter when standard error is a terminal, else `nil`.
    static func ifTerminal() -> TerminalProgress? {
        isatty(STDERR_FILENO) == 1 ? TerminalProgress() : nil
    }

    func progress(label: String, done: Int64, total: Int64) {
        let now = ContinuousClock.now
        let line: String? = state.withLock { state in
            let start = state.started[label] ?? now
            state.started[label] = start
            if let last = state.lastDraw, now - last < .milliseconds(250), done < total { return nil }
            state.lastDraw = now
            let elapsed = (now - start) / .seconds(1)
            let rate = elapsed > 0 ? Double(done) / elapsed : 0
            let eta = rate > 0 ? Double(total - done) / rate : 0
            let percent = total > 0 ? Int(Double(done) * 100 / Double(total)) : 100
            return
                "\r\(label): \(Format.bytes(done)) of \(Format.bytes(total)) (\(percent)%), \(Format.bytes(Int64(rate)))/s, ETA \(Int(eta.rounded())) s\u{1B}[K"
        }
        if let line { FileHandle.standardError.write(Data(line.utf8)) }
    }

    func finished(label: String) {
        FileHandle.standardError.write(Data("\n".utf8))
    }
}

/// Human-readable figures.
enum Format {
    static func bytes(_ count: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(count)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(count) B" : String(format: "%.1f %@", value, units[unit])
    }

    static func duration(_ duration: Duration) -> String {
        String(format: "%.2f s", duration / .seconds(1))
    }

    static func age(_ date: Date, now: Date = Date()) -> String {
        let seconds = Int(now.timeIntervalSince(date))
        switch seconds {
        case ..<120: return "\(max(0, seconds))s"
        case ..<7200: return "\(seconds / 60)m"
        case ..<172_800: return "\(seconds / 3600)h"
        default: return "\(seconds / 86400)d"
        }
    }
}
