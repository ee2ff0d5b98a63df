package import NIOCore

/// A value of the Redis serialization protocol, version 2.
package enum RESPValue: Sendable, Equatable {
    case simpleString(String)
    /// An error reply, such as `ERR unknown command`.
    case error(String)
    case integer(Int64)
    /// A bulk string; `nil` is the null bulk string.
    case bulkString(ByteBuffer?)
    /// An array; `nil` is the null array.
    case array([RESPValue]?)

    /// The value as text, for simple and bulk strings.
    package var string: String? {
        switch self {
        case .simpleString(let text): return text
        case .bulkString(let buffer?): return String(buffer: buffer)
        default: return nil
        }
    }

    package var integer: Int64? {
        if case .integer(let value) = self { return value }
        return nil
    }

    package var array: [RESPValue]? {
        if case .array(let values?) = self { return values }
        return nil
    }
}

extension RESPValue: CustomStringConvertible {
    package var description: String {
        switch self {
        case .simpleString(let text): return text
        case .error(let text): return "(error) \(text)"
        case .integer(let value): return "(integer) \(value)"
        case .bulkString(nil), .array(nil): return "(nil)"
        case .bulkString(let buffer?): return "\"\(String(buffer: buffer))\""
        case .array(let values?): return "[" + values.map(\.description).joined(separator: ", ") + "]"
        }
    }
}
