import Foundation

extension DynokeeperConfiguration {
    /// The `pitr.*` keys: point-in-time recovery from Redis's replication stream, archived by `serve`.
    package struct PointInTime: Sendable, Equatable {
        /// Whether `serve` follows Redis as a replica and archives its command stream.
        package var enabled = false
        /// A segment is closed and stored after this many seconds (and a restore can reach up to its end).
        package var segmentSeconds = 60
        /// A segment is closed and stored once it holds this many MiB of commands.
        package var segmentMB = 16

        package init(enabled: Bool = false, segmentSeconds: Int = 60, segmentMB: Int = 16) {
            self.enabled = enabled
            self.segmentSeconds = segmentSeconds
            self.segmentMB = segmentMB
        }
    }
}

extension DynokeeperConfiguration.PointInTime {
    /// Reads the `pitr.*` keys.
    init(reading reader: inout TypedReader) throws {
        let enabled = try reader.bool("pitr.enabled")
        reader.record("pitr.enabled", String(enabled?.value ?? false), enabled?.origin ?? .defaultValue)
        self.init(
            enabled: enabled?.value ?? false,
            segmentSeconds: try reader.int("pitr.segment_seconds", default: 60, range: 1...3600)!,
            segmentMB: try reader.int("pitr.segment_mb", default: 16, range: 1...512)!)
    }
}
