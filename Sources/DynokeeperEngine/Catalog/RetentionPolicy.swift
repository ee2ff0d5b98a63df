package import DynokeeperConfiguration
package import Foundation

/// Which snapshots to keep, with restic's semantics: a snapshot stays when any rule keeps it. Hours, days, weeks
/// (ISO 8601) and months are UTC; the newest snapshot of each such period counts for it.
package struct RetentionPolicy: Sendable, Equatable {
    /// The newest `last` snapshots.
    package var last = 0
    package var hourly = 0
    package var daily = 0
    package var weekly = 0
    package var monthly = 0
    /// Every snapshot taken within this long before the newest one.
    package var within: Duration?

    package init(
        last: Int = 0, hourly: Int = 0, daily: Int = 0, weekly: Int = 0, monthly: Int = 0, within: Duration? = nil
    ) {
        self.last = last
        self.hourly = hourly
        self.daily = daily
        self.weekly = weekly
        self.monthly = monthly
        self.within = within
    }

    /// Whether no rule is set (pruning with it would remove everything but what is protected: refused).
    package var isEmpty: Bool { last + hourly + daily + weekly + monthly == 0 && within == nil }

    /// For each of `dates` (newest first), the rules that keep it (empty: it may go).
    package func reasons(_ dates: [Date]) -> [[String]] {
        var reasons = Array(repeating: [String](), count: dates.count)
        for index in dates.indices.prefix(last) { reasons[index].append("last \(last)") }
        var calendar = Calendar(identifier: .iso8601)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let periods: [(String, Int, (Date) -> String)] = [
            ("hourly", hourly, { Self.format($0, "yyyy-MM-dd HH:00") }),
            ("daily", daily, { Self.format($0, "yyyy-MM-dd") }),
            (
                "weekly", weekly,
                { date in
                    let parts = calendar.dateComponents([.yearForWeekOfYear, .weekOfYear], from: date)
                    return String(format: "%04d-W%02d", parts.yearForWeekOfYear ?? 0, parts.weekOfYear ?? 0)
                }
            ),
            ("monthly", monthly, { Self.format($0, "yyyy-MM") }),
        ]
        for (name, count, period) in periods where count > 0 {
            var seen: [String] = []
            for (index, date) in dates.enumerated() {
                let bucket = period(date)
                guard !seen.contains(bucket) else { continue }
                guard seen.count < count else { break }
                seen.append(bucket)
                reasons[index].append("\(name) \(bucket)")
            }
        }
        if let within, let newest = dates.first {
            let cutoff = newest.addingTimeInterval(-(within / .seconds(1)))
            for (index, date) in dates.enumerated() where date >= cutoff {
                reasons[index].append("within \(DurationText.format(within)) of the newest")
            }
        }
        return reasons
    }

    private static func format(_ date: Date, _ pattern: String) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = pattern
        return formatter.string(from: date)
    }
}

extension RetentionPolicy {
    /// The configuration's `retention:` rules.
    package init(_ retention: DynokeeperConfiguration.Retention) {
        self.init(
            last: retention.keepLast, hourly: retention.keepHourly, daily: retention.keepDaily,
            weekly: retention.keepWeekly, monthly: retention.keepMonthly, within: retention.keepWithin)
    }
}
