import Foundation

extension DynokeeperConfiguration.Server {
    /// Reads the `server.*` keys; a token file is read here, so a missing one fails at load.
    init(reading reader: inout TypedReader) throws {
        let listen = try reader.string(
            "server.listen", default: "127.0.0.1:8080",
            check: { text in
                guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
                    (0...65535).contains(port), colon != text.startIndex
                else { return "it must be host:port" }
                return nil
            })!
        let colon = listen.lastIndex(of: ":")!
        var host = String(listen[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let inline = try reader.string("server.token", check: { $0.count < 16 ? "use at least 16 characters" : nil })
        let file = try reader.string("server.token_file")
        if inline != nil && file != nil {
            throw ConfigurationError("server.token and server.token_file are both set: keep one")
        }
        var token = inline
        if let file {
            guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8)
            else {
                throw ConfigurationError("server.token_file: cannot read \(file)")
            }
            token = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard token!.count >= 16 else {
                throw ConfigurationError("server.token_file \(file): use a token of at least 16 characters")
            }
        }
        self.init(
            host: host, port: Int(listen[listen.index(after: colon)...])!, token: token,
            tokenSource: inline != nil ? "server.token" : file.map { "server.token_file \($0)" })
        let tokenless = try reader.bool("server.dynomite_manager_tokenless")
        dynomiteManagerTokenless = tokenless?.value ?? false
        reader.record(
            "server.dynomite_manager_tokenless", String(dynomiteManagerTokenless), tokenless?.origin ?? .defaultValue)
        tlsCertFile = try reader.string("server.tls_cert_file")
        tlsKeyFile = try reader.string("server.tls_key_file")
        clientCAFile = try reader.string("server.client_ca_file")
        allowedHosts = try reader.strings("server.allowed_hosts").map { $0.lowercased() }
        if (tlsCertFile == nil) != (tlsKeyFile == nil) {
            throw ConfigurationError("server.tls_cert_file and server.tls_key_file go together: set both, or neither")
        }
        if clientCAFile != nil && tlsCertFile == nil {
            throw ConfigurationError(
                "server.client_ca_file needs TLS: set server.tls_cert_file and server.tls_key_file too")
        }
    }
}
