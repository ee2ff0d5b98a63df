import Foundation

/// A Java `.properties` file, read as `java.util.Properties` reads it: `key=value`, `key: value` or `key value`,
/// `#` and `!` comments, lines continued by a trailing backslash, and the escapes `\t`, `\n`, `\r`, `\f`, `\\`,
/// `\uXXXX` and a backslash before any other character.
package struct JavaProperties: Sendable {
    package struct Entry: Sendable, Equatable {
        package var key: String
        package var value: String
        /// The line the entry starts on (1-based).
        package var line: Int
    }

    package var entries: [Entry] = []

    package static func parse(_ text: String) -> JavaProperties {
        var result = JavaProperties()
        let lines = text.replacingOccurrences(of: "\r\n", with: "\n").split(
            separator: "\n", omittingEmptySubsequences: false)
        var index = 0
        while index < lines.count {
            let start = index
            var logical = String(lines[index].drop { $0 == " " || $0 == "\t" || $0 == "\u{0C}" })
            index += 1
            if logical.isEmpty || logical.hasPrefix("#") || logical.hasPrefix("!") { continue }
            // An odd number of trailing backslashes continues the line.
            while Self.continues(logical), index < lines.count {
                logical.removeLast()
                logical += lines[index].drop { $0 == " " || $0 == "\t" || $0 == "\u{0C}" }
                index += 1
            }
            if Self.continues(logical) { logical.removeLast() }
            let (key, value) = Self.split(logical)
            result.entries.append(Entry(key: Self.unescape(key), value: Self.unescape(value), line: start + 1))
        }
        return result
    }

    static func continues(_ line: String) -> Bool {
        line.reversed().prefix { $0 == "\\" }.count % 2 == 1
    }

    /// The key ends at the first unescaped `=`, `:` or whitespace; then whitespace, one separator, whitespace.
    static func split(_ line: String) -> (String, String) {
        var key = ""
        var rest = Substring(line)
        var escaped = false
        while let character = rest.first {
            if escaped {
                key.append("\\")
                key.append(character)
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == "=" || character == ":" || character == " " || character == "\t" {
                break
            } else {
                key.append(character)
            }
            rest = rest.dropFirst()
        }
        rest = rest.drop { $0 == " " || $0 == "\t" }
        if rest.first == "=" || rest.first == ":" { rest = rest.dropFirst() }
        rest = rest.drop { $0 == " " || $0 == "\t" }
        return (key, String(rest))
    }

    static func unescape(_ text: String) -> String {
        var result = ""
        var characters = Array(text)[...]
        while let character = characters.popFirst() {
            guard character == "\\", let next = characters.popFirst() else {
                result.append(character)
                continue
            }
            switch next {
            case "t": result.append("\t")
            case "n": result.append("\n")
            case "r": result.append("\r")
            case "f": result.append("\u{0C}")
            case "u":
                let hex = String(characters.prefix(4))
                if hex.count == 4, let code = UInt32(hex, radix: 16), let scalar = Unicode.Scalar(code) {
                    result.unicodeScalars.append(scalar)
                    characters = characters.dropFirst(4)
                } else {
                    result.append("u")
                }
            default: result.append(next)
            }
        }
        return result
    }
}
