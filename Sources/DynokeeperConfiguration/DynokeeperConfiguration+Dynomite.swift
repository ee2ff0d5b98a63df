extension DynokeeperConfiguration.Dynomite {
    /// Reads the `dynomite.*` keys.
    init(reading reader: inout TypedReader) throws {
        self.init(
            start: try reader.string("dynomite.start"), stop: try reader.string("dynomite.stop"),
            host: try reader.string("dynomite.host", check: { $0.isEmpty ? "empty" : nil }),
            port: try reader.int("dynomite.port", range: 1...65535))
    }
}
