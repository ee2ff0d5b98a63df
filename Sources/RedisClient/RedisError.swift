/// A failure talking to Redis, with a message for the operator.
package enum RedisError: Error, Sendable, CustomStringConvertible {
    /// The TCP connection could not be made.
    case connectionFailed(address: String, reason: String)
    /// Redis did not answer in time; the connection was closed.
    case timeout(command: String, seconds: Double)
    /// Redis answered with an error.
    case server(command: String, message: String)
    /// The connection closed before the answer came.
    case connectionClosed(command: String)
    /// The bytes received were not RESP.
    case protocolError(String)
    /// An answer of an unexpected shape.
    case unexpectedReply(command: String, reply: String)

    package var description: String {
        switch self {
        case .connectionFailed(let address, let reason):
            return "cannot connect to Redis at \(address): \(reason)"
        case .timeout(let command, let seconds):
            return "Redis did not answer \(command) within \(seconds) s"
        case .server(let command, let message):
            return "Redis refused \(command): \(message)"
        case .connectionClosed(let command):
            return "the connection to Redis closed before it answered \(command)"
        case .protocolError(let detail):
            return detail
        case .unexpectedReply(let command, let reply):
            return "unexpected answer to \(command): \(reply)"
        }
    }

    /// Whether Redis refused the credentials (or needs some).
    package var isAuthenticationFailure: Bool {
        guard case .server(_, let message) = self else { return false }
        return message.hasPrefix("WRONGPASS") || message.hasPrefix("NOAUTH") || message.contains("invalid password")
            || message.contains("invalid username-password")
    }
}
