package import Foundation

/// The moment a restore goes back to: the newest snapshot taken at or before it is chosen.
package enum RestorePoint {
    /// Parses `2026-11-20` (the end of that day), `2026-11-20T14:00`, `2026-11-20T14:00:00Z` or with an offset
    /// (`+02:00`), and Dynomite-manager's `20261120`.
    /// - Parameters:
    ///   - timeZone: Where a day, or a time without an offset, is read (`restore.timezone`, UTC by default).
    ///   - fractions: Also take fractions of a second (`2026-11-20T14:00:05.250Z`), for point-in-time restores.
    package static func parse(
        _ text: String, timeZone: TimeZone = TimeZone(identifier: "UTC")!, fractions: Bool = false
    ) throws -> Date {
        let invalid = ConfigurationError(
            "\"\(text)\" is not a date: use 2026-11-20, 2026-11-20T14:00, 2026-11-20T14:00:00Z\(fractions ? ", 2026-11-20T14:00:00.250Z" : "") or 20261120"
        )
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        // A point in time is a moment, not a day.
        if fractions && !trimmed.contains(":") {
            throw ConfigurationError(
                "\"\(text)\" is a day, not a moment: give the time too, such as 2026-11-20T14:03:07Z or 2026-11-20T14:03:07.250Z"
            )
        }
        let utc = Date.ISO8601FormatStyle(timeZone: TimeZone(identifier: "UTC")!)
        let local = Date.ISO8601FormatStyle(timeZone: timeZone)
        // Foundation parses the values (and the offsets), but it does not check the shape of the text: it takes
        // one-digit months, a zone without a colon and ignores whatever follows what it read. The shape is
        // checked here, by hand.
        if trimmed.wholeMatch(of: /[0-9]{8}/) != nil {
            guard let day = strictly(local.year().month().day().dateSeparator(.omitted), trimmed) else {
                throw invalid
            }
            return endOfDay(day, in: timeZone)
        }
        let form =
            /([0-9]{4}-[0-9]{2}-[0-9]{2})(?:[T ]([0-9]{2}:[0-9]{2})(:[0-9]{2})?(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})?)?/
        guard let parts = trimmed.wholeMatch(of: form)?.output, parts.4 == nil || (fractions && parts.3 != nil) else {
            throw invalid
        }
        let fraction = parts.4.flatMap { Double("0" + $0) } ?? 0
        guard let time = parts.2 else {
            guard let day = strictly(local.year().month().day(), String(parts.1)) else { throw invalid }
            return endOfDay(day, in: timeZone)
        }
        // Foundation reads times with seconds only: 14:00 is 14:00:00.
        let reading = "\(parts.1)T\(time)\(parts.3 ?? ":00")"
        // Without an offset, the time is the zone's; `Z` is UTC.
        let style = parts.5 == "Z" ? utc : local
        guard let date = strictly(style.year().month().day().time(includingFractionalSeconds: false), reading) else {
            throw invalid
        }
        guard let zone = parts.5, zone != "Z" else { return date.addingTimeInterval(fraction) }
        guard let zoned = try? utc.parse(reading + zone) else { throw invalid }
        return zoned.addingTimeInterval(fraction)
    }

    /// The last second of the day starting at `day` in `zone` (a day of a daylight-saving change has 23 or 25 hours).
    private static func endOfDay(_ day: Date, in zone: TimeZone) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        return calendar.date(byAdding: .day, value: 1, to: day)!.addingTimeInterval(-1)
    }

    /// What `style` parses from `text`, if it formats back to `text`: Foundation's parser reads 2026-02-30 as
    /// March 2nd, 25:00 as 1 o'clock the next day and second 60 as the next minute; those are refused.
    private static func strictly(_ style: Date.ISO8601FormatStyle, _ text: String) -> Date? {
        guard let date = try? style.parse(text), style.format(date) == text else { return nil }
        return date
    }
}
