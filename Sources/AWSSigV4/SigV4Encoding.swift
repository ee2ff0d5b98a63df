/// URI encoding as Signature Version 4 defines it: every byte but the unreserved characters
/// `A-Z a-z 0-9 - _ . ~` is percent-encoded with upper-case hexadecimal digits.
package enum SigV4Encoding {
    /// Encodes a string.
    /// - Parameters:
    ///   - string: The decoded string.
    ///   - keepSlash: Whether `/` stays as it is (for paths) or becomes `%2F` (for query parts).
    package static func encode(_ string: String, keepSlash: Bool = false) -> String {
        var out = [UInt8]()
        out.reserveCapacity(string.utf8.count)
        for byte in string.utf8 {
            if isUnreserved(byte) || (keepSlash && byte == UInt8(ascii: "/")) {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The canonical query string: encoded names and values, sorted by name then value, joined with `&`.
    /// - Parameter query: The decoded parameters.
    package static func canonicalQuery(_ query: [(name: String, value: String)]) -> String {
        query
            .map { (encode($0.name), encode($0.value)) }
            .sorted { $0.0 == $1.0 ? $0.1 < $1.1 : $0.0 < $1.0 }
            .map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }

    private static let hexDigits: [UInt8] = Array("0123456789ABCDEF".utf8)

    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"),
            UInt8(ascii: "."), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }
}
