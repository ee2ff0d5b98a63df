/// A bucket and the key root under which a store's keys live, as written `s3://bucket/some/prefix`.
package struct S3Location: Sendable, Equatable, CustomStringConvertible {
    package var bucket: String
    /// What comes before every store key in the bucket: empty, or ending with `/`. Built from a prefix it is the
    /// prefix's segments joined by `/` (`a/b/`); taken literally (Dynomite-manager's `base_dir` joined with `/` as it
    /// is given) it may start with `/` or hold `//`, as such keys are on AWS S3.
    package private(set) var keyRoot: String
    /// The key root with its empty segments dropped (`/a//` → `a/`), as stores that collapse them keep its keys;
    /// the key root itself when it has none.
    private(set) var collapsedKeyRoot: String

    /// - Parameters:
    ///   - bucket: The bucket's name.
    ///   - prefix: The key prefix; leading, trailing and repeated slashes are dropped.
    package init(bucket: String, prefix: String = "") {
        self.bucket = bucket
        self.keyRoot = Self.collapse(prefix)
        self.collapsedKeyRoot = keyRoot
    }

    /// A prefix's segments joined by `/`, ending with `/` (empty when it has none).
    private static func collapse(_ prefix: String) -> String {
        let segments = prefix.split(separator: "/")
        return segments.isEmpty ? "" : segments.joined(separator: "/") + "/"
    }

    /// A location whose key root is kept exactly as given (empty, or ending with `/`).
    package init(bucket: String, literalKeyRoot: String) {
        precondition(literalKeyRoot.isEmpty || literalKeyRoot.hasSuffix("/"), "a key root ends with /")
        self.bucket = bucket
        self.keyRoot = literalKeyRoot
        self.collapsedKeyRoot = Self.collapse(literalKeyRoot)
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

    /// The full key of a store key (or of a listing prefix).
    func fullKey(_ key: String) -> String { keyRoot + key }

    /// The store key of a full key, or `nil` if it lies outside the key root. Some S3-compatible stores (SeaweedFS
    /// among them) collapse a literal root's empty segments, storing `/a//k` as `a/k`: their listings are read with
    /// the collapsed root too.
    func storeKey(_ fullKey: String) -> String? {
        if fullKey.hasPrefix(keyRoot) { return String(fullKey.dropFirst(keyRoot.count)) }
        guard collapsedKeyRoot != keyRoot, fullKey.hasPrefix(collapsedKeyRoot) else { return nil }
        return String(fullKey.dropFirst(collapsedKeyRoot.count))
    }

    /// `s3://bucket` followed by the key root without its final `/`, so that `description + "/" + key` names a
    /// store key's object as awscli would.
    package var description: String { keyRoot.isEmpty ? "s3://\(bucket)" : "s3://\(bucket)/\(keyRoot.dropLast())" }
}

/// A setting of the S3 store that cannot work.
package struct S3ConfigurationError: Error, CustomStringConvertible, Sendable {
    package var description: String
    package init(_ description: String) { self.description = description }
}
