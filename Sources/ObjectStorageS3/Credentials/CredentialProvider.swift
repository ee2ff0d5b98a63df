package import AWSSigV4

/// A source of AWS credentials.
package protocol CredentialProvider: Sendable {
    /// A short name for messages, such as `environment` or `profile default`.
    var name: String { get }

    /// Returns credentials, or `nil` when this source has none to offer (so the next source is tried).
    /// - Throws: When the source is configured but broken (an unreadable file, a refused request): the
    ///   error says what to fix rather than silently trying the next source.
    func resolve() async throws -> AWSCredentials?
}

/// Credentials given in code or configuration.
package struct StaticCredentialProvider: CredentialProvider {
    package let credentials: AWSCredentials
    package var name: String { "static" }

    package init(_ credentials: AWSCredentials) { self.credentials = credentials }

    package func resolve() async throws -> AWSCredentials? { credentials }
}

/// Something is wrong with where the credentials come from.
package struct CredentialError: Error, CustomStringConvertible, Sendable {
    package var description: String
    package init(_ description: String) { self.description = description }
}
