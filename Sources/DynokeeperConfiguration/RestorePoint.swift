public import Foundation

/// The moment a restore goes back to: the newest snapshot taken at or before it is chosen.
public enum RestorePoint {
    /// Parses `2026-11-20` (the end of that day, UTC), `2026-11-20T14:00` (UTC),
    /// `2026-11-20T14:00:00Z` or with an offset (`+02:00`), and Dynomite-manager's `20261120`.
    public static func parse(_ text: String) throws -> Date {
        func invalid() -> ConfigurationError {
            ConfigurationError(
                "\"\(text)\" is not a date: use 2026-11-20, 2026-11-20T14:00, 2026-11-20T14:00:00Z or 20261120")
        }
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let utf8 = Array(trimmed.utf8)
        func digits(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= utf8.count else { return nil }
            var value = 0
            for byte in utf8[range] {
                guard byte >= 48 && byte <= 57 else { return nil }
                value = value * 10 + Int(byte - 48)
            }
            return value
        }
        var components = DateComponents()
        components.timeZone = TimeZone(identifier: "UTC")
        var endOfDay = false
        var offsetSeconds = 0
        if utf8.count == 8, let year = digits(0..<4), let month = digits(4..<6), let day = digits(6..<8) {
            (components.year, components.month, components.day) = (year, month, day)
            endOfDay = true
        } else {
            guard utf8.count >= 10, utf8[4] == UInt8(ascii: "-"), utf8[7] == UInt8(ascii: "-"),
                let year = digits(0..<4), let month = digits(5..<7), let day = digits(8..<10)
            else { throw invalid() }
            (components.year, components.month, components.day) = (year, month, day)
            if utf8.count == 10 {
                endOfDay = true
            } else {
                guard utf8[10] == UInt8(ascii: "T") || utf8[10] == UInt8(ascii: " "), utf8.count >= 16,
                    utf8[13] == UInt8(ascii: ":"), let hour = digits(11..<13), let minute = digits(14..<16)
                else { throw invalid() }
                (components.hour, components.minute, components.second) = (hour, minute, 0)
                var index = 16
                if index < utf8.count && utf8[index] == UInt8(ascii: ":") {
                    guard let second = digits(17..<19) else { throw invalid() }
                    components.second = second
                    index = 19
                }
                if index < utf8.count {
                    let zone = String(decoding: utf8[index...], as: UTF8.self)
                    if zone == "Z" {
                        offsetSeconds = 0
                    } else if zone.count == 6, let sign = zone.first, sign == "+" || sign == "-",
                        let hours = Int(zone.dropFirst().prefix(2)), let minutes = Int(zone.suffix(2)),
                        zone.dropFirst(3).first == ":"
                    {
                        offsetSeconds = (hours * 3600 + minutes * 60) * (sign == "-" ? -1 : 1)
                    } else {
                        throw invalid()
                    }
                }
                guard (0...23).contains(hour), (0...59).contains(minute), (0...59).contains(components.second!)
                else { throw invalid() }
            }
        }
        if endOfDay { (components.hour, components.minute, components.second) = (23, 59, 59) }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        guard let date = calendar.date(from: components),
            calendar.component(.day, from: date) == components.day,
            calendar.component(.month, from: date) == components.month
        else { throw invalid() }
        return date.addingTimeInterval(TimeInterval(-offsetSeconds))
    }
}
