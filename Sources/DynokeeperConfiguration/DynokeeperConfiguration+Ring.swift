extension DynokeeperConfiguration.Ring {
    /// Reads the `ring.*` keys; a peer's trailing slash is dropped.
    init(reading reader: inout TypedReader) throws {
        self.init(
            peers: try reader.strings(
                "ring.peers",
                check: { url in
                    guard url.hasPrefix("http://") || url.hasPrefix("https://"), url.count > 8 else {
                        return "a base URL such as http://10.0.0.2:8080"
                    }
                    return nil
                }
            ).map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 },
            peerPort: try reader.int("ring.peer_port", range: 1...65535))
        caFile = try reader.string("ring.ca_file")
        allowPlaintext = try reader.bool("ring.allow_plaintext")?.value ?? false
        if let problem = peers.lazy.compactMap(plaintextProblem).first {
            throw ConfigurationError("ring.peers: \(problem)")
        }
    }
}
