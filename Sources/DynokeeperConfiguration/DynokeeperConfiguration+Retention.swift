import Foundation

extension DynokeeperConfiguration.Retention {
    /// Reads the `retention.*` keys.
    init(reading reader: inout TypedReader) throws {
        self.init()
        keepLast = try reader.int("retention.keep_last", default: 0, range: 0...1_000_000)!
        keepHourly = try reader.int("retention.keep_hourly", default: 0, range: 0...1_000_000)!
        keepDaily = try reader.int("retention.keep_daily", default: 0, range: 0...1_000_000)!
        keepWeekly = try reader.int("retention.keep_weekly", default: 0, range: 0...1_000_000)!
        keepMonthly = try reader.int("retention.keep_monthly", default: 0, range: 0...1_000_000)!
        keepWithin = try reader.string(
            "retention.keep_within", check: { DurationText.parse($0) == nil ? "not a duration such as 36h or 7d" : nil }
        ).flatMap(DurationText.parse)
    }
}
