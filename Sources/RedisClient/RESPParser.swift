package import NIOCore

/// Reads RESP2 values from bytes that arrive in pieces.
///
/// ``parse(_:)`` returns `nil` until a whole value is buffered, without consuming anything; malformed input is
/// an error, after which the connection cannot be trusted.
package struct RESPParser: Sendable {
    /// The largest bulk string accepted (Redis's own limit is 512 MB).
    package var maximumBulkLength: Int = 512 << 20
    /// The deepest nesting of arrays accepted.
    package var maximumDepth: Int = 32
    /// The longest line (simple string, error, integer, length) accepted.
    package var maximumLineLength: Int = 64 << 10

    package init() {}

    /// Parses one value from the front of `buffer`, consuming its bytes, or returns `nil` and consumes nothing
    /// if the value is not complete yet.
    package func parse(_ buffer: inout ByteBuffer) throws(RESPError) -> RESPValue? {
        var copy = buffer
        guard let value = try parseValue(&copy, depth: 0) else { return nil }
        buffer = copy
        return value
    }

    private func parseValue(_ buffer: inout ByteBuffer, depth: Int) throws(RESPError) -> RESPValue? {
        guard let marker = buffer.readInteger(as: UInt8.self) else { return nil }
        switch marker {
        case UInt8(ascii: "+"):
            return try readLine(&buffer).map { .simpleString($0) }
        case UInt8(ascii: "-"):
            return try readLine(&buffer).map { .error($0) }
        case UInt8(ascii: ":"):
            guard let line = try readLine(&buffer) else { return nil }
            guard let value = Int64(line) else {
                throw RESPError.malformed("integer reply \"\(line)\" is not a number")
            }
            return .integer(value)
        case UInt8(ascii: "$"):
            guard let length = try readLength(&buffer) else { return nil }
            if length == -1 { return .bulkString(nil) }
            guard length >= 0 else { throw RESPError.malformed("bulk string length \(length)") }
            guard length <= maximumBulkLength else {
                throw RESPError.malformed(
                    "bulk string of \(length) bytes is larger than the \(maximumBulkLength) accepted")
            }
            guard buffer.readableBytes >= length + 2 else { return nil }
            let bytes = buffer.readSlice(length: length)!
            guard buffer.readInteger(as: UInt8.self) == UInt8(ascii: "\r"),
                buffer.readInteger(as: UInt8.self) == UInt8(ascii: "\n")
            else { throw RESPError.malformed("bulk string not followed by CRLF") }
            return .bulkString(bytes)
        case UInt8(ascii: "*"):
            guard let count = try readLength(&buffer) else { return nil }
            if count == -1 { return .array(nil) }
            guard count >= 0 else { throw RESPError.malformed("array length \(count)") }
            guard depth < maximumDepth else { throw RESPError.malformed("arrays nested deeper than \(maximumDepth)") }
            // Each element takes at least 3 bytes; a huge count with little data is incomplete, not a reason to
            // allocate.
            var values: [RESPValue] = []
            values.reserveCapacity(min(count, 1024))
            for _ in 0..<count {
                guard let value = try parseValue(&buffer, depth: depth + 1) else { return nil }
                values.append(value)
            }
            return .array(values)
        default:
            throw RESPError.malformed(
                "unexpected type byte 0x\(String(marker, radix: 16)) (\"\(Character(Unicode.Scalar(marker)))\")")
        }
    }

    private func readLength(_ buffer: inout ByteBuffer) throws(RESPError) -> Int? {
        guard let line = try readLine(&buffer) else { return nil }
        guard let value = Int(line) else { throw RESPError.malformed("length \"\(line)\" is not a number") }
        return value
    }

    /// A line up to CRLF, without it.
    private func readLine(_ buffer: inout ByteBuffer) throws(RESPError) -> String? {
        let view = buffer.readableBytesView
        guard let cr = view.firstIndex(of: UInt8(ascii: "\r")) else {
            if view.count > maximumLineLength {
                throw RESPError.malformed("line longer than \(maximumLineLength) bytes")
            }
            return nil
        }
        let length = cr - view.startIndex
        guard buffer.readableBytes >= length + 2 else { return nil }
        guard buffer.getInteger(at: buffer.readerIndex + length + 1, as: UInt8.self) == UInt8(ascii: "\n") else {
            throw RESPError.malformed("CR not followed by LF")
        }
        let line = buffer.readString(length: length)!
        buffer.moveReaderIndex(forwardBy: 2)
        return line
    }
}

/// The connection to Redis broke its protocol.
package enum RESPError: Error, Sendable, Equatable, CustomStringConvertible {
    case malformed(String)

    package var description: String {
        switch self {
        case .malformed(let detail): return "malformed reply from Redis: \(detail)"
        }
    }
}
