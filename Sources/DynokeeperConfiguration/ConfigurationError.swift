/// A configuration that cannot be used, with a message naming the key, where its value came from, and
/// what is expected.
package struct ConfigurationError: Error, Sendable, CustomStringConvertible, Equatable {
    package var message: String

    package init(_ message: String) { self.message = message }

    package var description: String { message }
}
