package import Foundation

extension DynokeeperConfiguration {
    /// The next scheduled backup after `date`; `nil` when scheduled backups are off.
    package func nextScheduledBackup(after date: Date) -> Date? {
        backup.enabled ? backup.schedule.next(after: date) : nil
    }
}

/// When scheduled backups run, in UTC: every day at a time, or as a five-field cron expression.
package enum BackupSchedule: Sendable, Equatable, CustomStringConvertible {
    case daily(hour: Int, minute: Int)
    case cron(CronExpression)

    /// Parses `daily HH:MM` or a cron expression.
    package init(parsing text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.lowercased().hasPrefix("daily") {
            let time = trimmed.dropFirst(5).trimmingCharacters(in: .whitespaces)
            let parts = time.split(separator: ":")
            guard parts.count == 2, let hour = Int(parts[0]), let minute = Int(parts[1]), (0...23).contains(hour),
                (0...59).contains(minute), parts[1].count == 2
            else {
                throw ConfigurationError(
                    "\"\(text)\" is not \"daily HH:MM\" with HH from 00 to 23 and MM from 00 to 59")
            }
            self = .daily(hour: hour, minute: minute)
        } else {
            let expression = try CronExpression(parsing: trimmed)
            // Days that no month has (31 February) make a schedule that never runs: no backup would ever be taken.
            guard expression.next(after: Date(timeIntervalSince1970: 1_798_761_600)) != nil else {
                throw ConfigurationError(
                    "\"\(text)\" never fires (no month has such a day): nothing would ever run on it")
            }
            self = .cron(expression)
        }
    }

    /// Dynomite-manager's schedule: at HH:01 every day, or every Monday for `week`.
    static func dynomiteManager(hour: Int, schedule: String) -> BackupSchedule? {
        switch schedule.lowercased() {
        case "day": return .daily(hour: hour, minute: 1)
        case "week": return try? .cron(CronExpression(parsing: "1 \(hour) * * 1"))
        default: return nil
        }
    }

    /// The first run strictly after `date`.
    package func next(after date: Date) -> Date? {
        switch self {
        case .daily(let hour, let minute):
            return CronExpression.daily(hour: hour, minute: minute).next(after: date)
        case .cron(let expression):
            return expression.next(after: date)
        }
    }

    /// Whether two schedules run at the same moments (`daily 03:01` and `1 3 * * *`), over the coming weeks.
    func runsAtTheSameMoments(as other: BackupSchedule) -> Bool {
        var moment = Self.referenceStart
        for _ in 0..<60 {
            guard let next = next(after: moment), other.next(after: moment) == next else { return false }
            moment = next
        }
        return true
    }

    /// Where comparisons over the coming weeks start: 2027-01-01, any fixed moment.
    private static let referenceStart = Date(timeIntervalSince1970: 1_798_761_600)

    /// The time between two runs at most, to tell whether a run was missed: a day for `daily`, else the
    /// longest gap between consecutive runs over the coming weeks.
    package var period: TimeInterval {
        switch self {
        case .daily: return 86_400
        case .cron(let expression):
            var longest: TimeInterval = 60
            var current = Self.referenceStart
            for _ in 0..<200 {
                guard let next = expression.next(after: current) else { break }
                longest = max(longest, next.timeIntervalSince(current))
                current = next
            }
            return longest
        }
    }

    package var description: String {
        switch self {
        case .daily(let hour, let minute):
            return "daily \(hour < 10 ? "0" : "")\(hour):\(minute < 10 ? "0" : "")\(minute)"
        case .cron(let expression): return expression.description
        }
    }
}
