/// A configuration that cannot be used, with a message naming the key, where its value came from, and
/// what is expected.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible, Equatable {
    public var message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
