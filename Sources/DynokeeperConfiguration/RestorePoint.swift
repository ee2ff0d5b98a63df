package import Foundation

/// The moment a restore goes back to: the newest snapshot taken at or before it is chosen.
package enum RestorePoint {
    /// Parses `2026-11-20` (the end of that day), `2026-11-20T14:00`, `2026-11-20T14:00:00Z` or with an offset
    /// (`+02:00`), and Dynomite-manager's `20261120`.
    /// - Parameter timeZone: Where a day, or a time without an offset, is read (`restore.timezone`, UTC by default).
    package static func parse(_ text: String, timeZone: TimeZone) throws -> Date {
        let utcValue = try parse(text)
        let hasOffset = text.contains("Z") || text.dropFirst(10).contains("+") || text.dropFirst(10).contains("-")
        guard !hasOffset else { return utcValue }
        // The same wall-clock reading in `timeZone`: shifted by the zone's offset at that moment (taken near the
        // real instant, so that a day of a daylight-saving change is read with that day's offset).
        let guess = utcValue.addingTimeInterval(-TimeInterval(timeZone.secondsFromGMT(for: utcValue)))
        return utcValue.addingTimeInterval(-TimeInterval(timeZone.secondsFromGMT(for: guess)))
    }

    /// Parses as ``parse(_:timeZone:)`` in UTC.
    package static func parse(_ text: String) throws -> Date {
        let invalid = ConfigurationError(
            "\"\(text)\" is not a date: use 2026-11-20, 2026-11-20T14:00, 2026-11-20T14:00:00Z or 20261120")
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let utc = Date.ISO8601FormatStyle(timeZone: TimeZone(identifier: "UTC")!)
        // Foundation parses the values (and the offsets), but it does not check the shape of the text: it takes
        // one-digit months, a zone without a colon and ignores whatever follows what it read. The shape is
        // checked here, by hand.
        if trimmed.wholeMatch(of: /[0-9]{8}/) != nil {
            guard let day = strictly(utc.year().month().day().dateSeparator(.omitted), trimmed) else { throw invalid }
            return endOfDay(day)
        }
        let form = /([0-9]{4}-[0-9]{2}-[0-9]{2})(?:[T ]([0-9]{2}:[0-9]{2})(:[0-9]{2})?(Z|[+-][0-9]{2}:[0-9]{2})?)?/
        guard let parts = trimmed.wholeMatch(of: form)?.output else { throw invalid }
        guard let time = parts.2 else {
            guard let day = strictly(utc.year().month().day(), String(parts.1)) else { throw invalid }
            return endOfDay(day)
        }
        // Foundation reads times with seconds only: 14:00 is 14:00:00.
        let local = "\(parts.1)T\(time)\(parts.3 ?? ":00")"
        guard let date = strictly(utc.year().month().day().time(includingFractionalSeconds: false), local) else {
            throw invalid
        }
        guard let zone = parts.4, zone != "Z" else { return date }
        guard let zoned = try? utc.parse(local + zone) else { throw invalid }
        return zoned
    }

    /// The 23:59:59 of a day starting at `day` (UTC: every day has 86,400 seconds).
    private static func endOfDay(_ day: Date) -> Date { day.addingTimeInterval(86_399) }

    /// What `style` parses from `text`, if it formats back to `text`: Foundation's parser reads 2026-02-30 as
    /// March 2nd, 25:00 as 1 o'clock the next day and second 60 as the next minute; those are refused.
    private static func strictly(_ style: Date.ISO8601FormatStyle, _ text: String) -> Date? {
        guard let date = try? style.parse(text), style.format(date) == text else { return nil }
        return date
    }
}
