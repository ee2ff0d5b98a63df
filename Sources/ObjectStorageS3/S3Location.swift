/// A bucket and a key prefix, as written `s3://bucket/some/prefix`.
package struct S3Location: Sendable, Equatable, CustomStringConvertible {
    package var bucket: String
    /// The prefix under which every key of the store lives, without leading or trailing `/`; may be empty.
    package var prefix: String

    /// - Parameters:
    ///   - bucket: The bucket's name.
    ///   - prefix: The key prefix; leading and trailing slashes are dropped.
    package init(bucket: String, prefix: String = "") {
        self.bucket = bucket
        self.prefix = prefix.split(separator: "/").joined(separator: "/")
    }

    /// Parses `s3://bucket[/prefix]`.
    /// - Throws: ``S3ConfigurationError`` naming what is wrong.
    package init(url: String) throws {
        guard url.hasPrefix("s3://") else {
            throw S3ConfigurationError("\(url) is not an s3:// URL")
        }
        let rest = url.dropFirst("s3://".count)
        let bucket = rest.prefix { $0 != "/" }
        try Self.validateBucket(String(bucket))
        self.init(bucket: String(bucket), prefix: String(rest.dropFirst(bucket.count)))
    }

    /// Checks S3's bucket naming rules: 3 to 63 characters, lower-case letters, digits, `.` and `-`,
    /// starting and ending with a letter or digit.
    package static func validateBucket(_ bucket: String) throws {
        let allowed = bucket.utf8.allSatisfy {
            ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9"))
                || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-")
        }
        guard (3...63).contains(bucket.count), allowed, let first = bucket.first, let last = bucket.last,
            first.isLetter || first.isNumber, last.isLetter || last.isNumber
        else {
            throw S3ConfigurationError(
                "invalid bucket name \"\(bucket)\": 3 to 63 characters, lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit"
            )
        }
    }

    /// The full key of a store key.
    func fullKey(_ key: String) -> String { prefix.isEmpty ? key : prefix + "/" + key }

    /// The store key of a full key, or `nil` if it lies outside the prefix.
    func storeKey(_ fullKey: String) -> String? {
        if prefix.isEmpty { return fullKey }
        guard fullKey.hasPrefix(prefix + "/") else { return nil }
        return String(fullKey.dropFirst(prefix.count + 1))
    }

    package var description: String { prefix.isEmpty ? "s3://\(bucket)" : "s3://\(bucket)/\(prefix)" }
}

/// A setting of the S3 store that cannot work.
package struct S3ConfigurationError: Error, CustomStringConvertible, Sendable {
    package var description: String
    package init(_ description: String) { self.description = description }
}
