/// A failure of a store operation, with a message meant for the operator.
package struct ObjectStoreError: Error, Sendable, CustomStringConvertible {
    package enum Code: String, Sendable {
        /// No object under the key (or no bucket).
        case notFound
        /// The credentials were refused: wrong secret, missing permission.
        case accessDenied
        /// The temporary credentials have expired: fetching new ones is the fix.
        case expiredCredentials
        /// The key cannot be stored (empty, `..`, too long, …).
        case invalidKey
        /// The bytes read or written do not match their checksum, length or version.
        case integrity
        /// The store could not be reached or answered with a server error; worth retrying.
        case unavailable
        /// The store asks to slow down; worth retrying.
        case throttled
        /// The request was refused as malformed or impossible (such as a range past the end).
        case invalidRequest
        /// Anything else.
        case other
    }

    package var code: Code
    package var message: String
    package var key: String?

    /// - Parameters:
    ///   - code: The kind of failure.
    ///   - message: What happened, for the operator.
    ///   - key: The object concerned, if one.
    package init(_ code: Code, _ message: String, key: String? = nil) {
        self.code = code
        self.message = message
        self.key = key
    }

    /// Whether trying again may succeed.
    package var isRetryable: Bool { code == .unavailable || code == .throttled }

    package var description: String {
        if let key { return "\(message) (key \(key))" }
        return message
    }
}
