package import Foundation

/// A five-field cron expression (minute, hour, day of month, month, day of week), in UTC.
///
/// Fields accept `*`, numbers, ranges (`1-5`), lists (`1,15`), steps (`*/6`, `0-30/10`) and, for months
/// and days of week, three-letter names (`jan`, `mon`). Day of week 0 and 7 are both Sunday. As in cron,
/// when both day of month and day of week are restricted, a day matching either runs.
package struct CronExpression: Sendable, Equatable, CustomStringConvertible {
    package let minutes: Set<Int>
    package let hours: Set<Int>
    package let daysOfMonth: Set<Int>
    package let months: Set<Int>
    package let daysOfWeek: Set<Int>
    /// Whether the day-of-month and day-of-week fields were `*` (unrestricted).
    package let anyDayOfMonth: Bool
    package let anyDayOfWeek: Bool
    package let description: String

    static let monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    static let dayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

    /// `M H * * *`.
    static func daily(hour: Int, minute: Int) -> CronExpression {
        // Always valid: hour and minute were checked when parsed.
        try! CronExpression(parsing: "\(minute) \(hour) * * *")
    }

    package init(parsing text: String) throws {
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard fields.count == 5 else {
            throw ConfigurationError(
                "\"\(text)\" is not a cron expression: it needs five fields (minute hour day-of-month month day-of-week), it has \(fields.count)"
            )
        }
        minutes = try Self.field(fields[0], name: "minute", range: 0...59, names: [], text: text)
        hours = try Self.field(fields[1], name: "hour", range: 0...23, names: [], text: text)
        daysOfMonth = try Self.field(fields[2], name: "day of month", range: 1...31, names: [], text: text)
        months = try Self.field(
            fields[3], name: "month", range: 1...12, names: Self.monthNames, nameBase: 1, text: text)
        let weekdays = try Self.field(fields[4], name: "day of week", range: 0...7, names: Self.dayNames, text: text)
        daysOfWeek = Set(weekdays.map { $0 == 7 ? 0 : $0 })
        anyDayOfMonth = fields[2] == "*" || fields[2] == "?"
        anyDayOfWeek = fields[4] == "*" || fields[4] == "?"
        description = fields.joined(separator: " ")
    }

    private static func field(
        _ field: String, name: String, range: ClosedRange<Int>, names: [String], nameBase: Int = 0, text: String
    ) throws -> Set<Int> {
        func invalid(_ why: String) -> ConfigurationError {
            ConfigurationError("\"\(text)\" is not a valid cron expression: \(name) field \"\(field)\" \(why)")
        }
        func number(_ token: Substring) throws -> Int {
            if let value = Int(token) {
                guard range.contains(value) else {
                    throw invalid("has \(value) outside \(range.lowerBound)-\(range.upperBound)")
                }
                return value
            }
            if let index = names.firstIndex(of: token.lowercased()) { return index + nameBase }
            throw invalid("has \"\(token)\", which is not a number")
        }
        var values = Set<Int>()
        for part in field.split(separator: ",", omittingEmptySubsequences: false) {
            guard !part.isEmpty else { throw invalid("has an empty list item") }
            let pieces = part.split(separator: "/", omittingEmptySubsequences: false)
            guard pieces.count <= 2 else { throw invalid("has more than one /") }
            var step = 1
            if pieces.count == 2 {
                guard let parsed = Int(pieces[1]), parsed > 0 else {
                    throw invalid("has a step that is not a positive number")
                }
                step = parsed
            }
            let base = pieces[0]
            let bounds: ClosedRange<Int>
            if base == "*" || base == "?" {
                bounds = range
            } else if let dash = base.firstIndex(of: "-") {
                let low = try number(base[..<dash])
                let high = try number(base[base.index(after: dash)...])
                guard low <= high else { throw invalid("has a range \(low)-\(high) that goes backwards") }
                bounds = low...high
            } else {
                let single = try number(base)
                bounds = single...(pieces.count == 2 ? range.upperBound : single)
            }
            values.formUnion(stride(from: bounds.lowerBound, through: bounds.upperBound, by: step))
        }
        return values
    }

    package static func == (lhs: CronExpression, rhs: CronExpression) -> Bool { lhs.description == rhs.description }

    /// Whether a day matches the day-of-month and day-of-week fields (either one, when both are restricted).
    func matchesDay(dayOfMonth: Int, weekday: Int) -> Bool {
        switch (anyDayOfMonth, anyDayOfWeek) {
        case (true, true): return true
        case (false, true): return daysOfMonth.contains(dayOfMonth)
        case (true, false): return daysOfWeek.contains(weekday)
        case (false, false): return daysOfMonth.contains(dayOfMonth) || daysOfWeek.contains(weekday)
        }
    }

    /// The first minute strictly after `date` that the expression matches, in UTC; `nil` if none within
    /// eight years (an impossible date such as February 30).
    package func next(after date: Date) -> Date? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        // Start at the next whole minute.
        var current = Date(timeIntervalSince1970: ((date.timeIntervalSince1970 / 60).rounded(.down) + 1) * 60)
        let limit = date.addingTimeInterval(8 * 366 * 86_400)
        while current < limit {
            let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .weekday], from: current)
            guard months.contains(parts.month!) else {
                // First minute of the next month.
                let firstOfMonth = calendar.date(from: DateComponents(year: parts.year, month: parts.month, day: 1))!
                current = calendar.date(byAdding: .month, value: 1, to: firstOfMonth)!
                continue
            }
            guard matchesDay(dayOfMonth: parts.day!, weekday: parts.weekday! - 1) else {
                current = calendar.date(byAdding: .day, value: 1, to: calendar.startOfDay(for: current))!
                continue
            }
            guard hours.contains(parts.hour!) else {
                let hourStart = calendar.date(
                    from: DateComponents(year: parts.year, month: parts.month, day: parts.day, hour: parts.hour))!
                current = hourStart.addingTimeInterval(3600)
                continue
            }
            guard minutes.contains(parts.minute!) else {
                current = current.addingTimeInterval(60)
                continue
            }
            return current
        }
        return nil
    }
}
