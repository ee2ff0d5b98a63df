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
                    // Credentials in a URL would be printed and logged wherever the URL is: peers use server.token.
                    if url.dropFirst(url.hasPrefix("https://") ? 8 : 7).prefix(while: { $0 != "/" }).contains("@") {
                        return
                            "a peer URL must not hold credentials (user:password@): peers authenticate with server.token"
                    }
                    return nil
                }
            ).map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 },
            peerPort: try reader.int("ring.peer_port", range: 1...65535))
        caFile = try reader.string("ring.ca_file")
        let plaintext = try reader.bool("ring.allow_plaintext")
        allowPlaintext = plaintext?.value ?? false
        reader.record("ring.allow_plaintext", String(allowPlaintext), plaintext?.origin ?? .defaultValue)
        if let problem = peers.lazy.compactMap(plaintextProblem).first {
            throw ConfigurationError("ring.peers: \(problem)")
        }
    }
}
