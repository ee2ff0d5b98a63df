/// The parts of an HTTP request that Signature Version 4 signs.
///
/// The path and the query are given *decoded*; the signer encodes them the way AWS expects, and
/// ``SigV4Encoding`` offers the same encoding to build the URL that is actually sent, so that both agree.
package struct SigV4Request: Sendable {
    package var method: String
    /// The decoded absolute path, such as `/bucket/some key.rdb`.
    package var path: String
    /// Decoded query parameters; a parameter without value (`?uploads`) has an empty value.
    package var query: [(name: String, value: String)]
    /// The headers to sign; they must include `host`. Names are case-insensitive.
    package var headers: [(name: String, value: String)]

    /// - Parameters:
    ///   - method: The HTTP method, such as `GET`.
    ///   - path: The decoded absolute path.
    ///   - query: The decoded query parameters.
    ///   - headers: The headers to sign, `host` included.
    package init(
        method: String,
        path: String,
        query: [(name: String, value: String)] = [],
        headers: [(name: String, value: String)]
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
    }

    /// The first value of a header, by case-insensitive name.
    package func header(_ name: String) -> String? {
        let lowered = name.lowercased()
        return headers.first { $0.name.lowercased() == lowered }?.value
    }
}
