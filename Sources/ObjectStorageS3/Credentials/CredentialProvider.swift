public import AWSSigV4

/// A source of AWS credentials.
public protocol CredentialProvider: Sendable {
    /// A short name for messages, such as `environment` or `profile default`.
    var name: String { get }

    /// Returns credentials, or `nil` when this source has none to offer (so the next source is tried).
    /// - Throws: When the source is configured but broken (an unreadable file, a refused request): the
    ///   error says what to fix rather than silently trying the next source.
    func resolve() async throws -> AWSCredentials?
}

/// Credentials given in code or configuration.
public struct StaticCredentialProvider: CredentialProvider {
    public let credentials: AWSCredentials
    public var name: String { "static" }

    public init(_ credentials: AWSCredentials) { self.credentials = credentials }

    public func resolve() async throws -> AWSCredentials? { credentials }
}

/// Something is wrong with where the credentials come from.
public struct CredentialError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
