extension DynokeeperConfiguration.Redis {
    /// Reads the `redis.*` keys.
    init(reading reader: inout TypedReader) throws {
        self.init(
            host: try reader.string("redis.host", check: { $0.isEmpty ? "empty" : nil }),
            port: try reader.int("redis.port", range: 1...65535),
            user: try reader.string("redis.user"),
            passwordFile: try reader.string("redis.password_file"),
            conf: try reader.string("redis.conf"),
            dataDir: try reader.string("redis.data_dir"),
            start: try reader.string("redis.start"),
            stop: try reader.string("redis.stop"))
    }
}
