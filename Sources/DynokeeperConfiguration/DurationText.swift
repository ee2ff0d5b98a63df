package import Foundation

/// Durations as the command line and the configuration write them: `90s`, `30m`, `24h`, `7d`.
package enum DurationText {
    package static func parse(_ text: String) -> Duration? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard let unit = trimmed.last, let value = Int(trimmed.dropLast()), value >= 0 else { return nil }
        let factor: Int
        switch unit {
        case "s": factor = 1
        case "m": factor = 60
        case "h": factor = 3600
        case "d": factor = 86_400
        default: return nil
        }
        let (seconds, overflow) = value.multipliedReportingOverflow(by: factor)
        return overflow || seconds > 100 * 365 * 86_400 ? nil : .seconds(seconds)
    }

    /// The duration in the largest unit that writes it exactly: `7d`, `36h`, `90s`.
    package static func format(_ duration: Duration) -> String {
        let seconds = duration.components.seconds
        for (unit, factor) in [("d", Int64(86_400)), ("h", 3600), ("m", 60)] where seconds > 0 && seconds % factor == 0
        {
            return "\(seconds / factor)\(unit)"
        }
        return "\(seconds)s"
    }
}
