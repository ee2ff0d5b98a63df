extension DynokeeperConfiguration.Log {
    /// Reads the `log.*` keys.
    init(reading reader: inout TypedReader) throws {
        self.init(
            level: try reader.string(
                "log.level", default: "info",
                check: {
                    ["trace", "debug", "info", "notice", "warning", "error", "critical"].contains($0)
                        ? nil : "unknown level"
                })!,
            format: Format(
                rawValue: try reader.string(
                    "log.format", default: "text",
                    check: {
                        ["text", "json"].contains($0) ? nil : "unknown format"
                    })!)!)
    }
}
