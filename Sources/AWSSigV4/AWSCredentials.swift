package import struct Foundation.Date

/// A set of AWS credentials: an access key, its secret and, for temporary credentials, a session token.
package struct AWSCredentials: Sendable, Equatable {
    package var accessKeyID: String
    package var secretAccessKey: String
    package var sessionToken: String?
    /// When temporary credentials stop being valid; `nil` for long-term keys.
    package var expiration: Date?

    /// - Parameters:
    ///   - accessKeyID: The access key id (`AKIA…` or `ASIA…`).
    ///   - secretAccessKey: The secret that signs requests.
    ///   - sessionToken: The session token of temporary credentials.
    ///   - expiration: When temporary credentials expire.
    package init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil, expiration: Date? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.expiration = expiration
    }

    /// The access key id with all but its first four and last four characters hidden, for logs.
    package var redactedAccessKeyID: String {
        guard accessKeyID.count > 8 else { return String(repeating: "*", count: accessKeyID.count) }
        return "\(accessKeyID.prefix(4))…\(accessKeyID.suffix(4))"
    }
}

extension AWSCredentials: CustomStringConvertible {
    /// Never prints the secret or the token.
    package var description: String {
        "AWSCredentials(accessKeyID: \(redactedAccessKeyID), secret: <redacted>\(sessionToken == nil ? "" : ", session token: <redacted>"))"
    }
}
