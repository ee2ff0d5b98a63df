/// Rules for keys that every store accepts, so that a snapshot written to one store can be copied to another.
package enum ObjectKey {
    /// The longest key S3 accepts, in UTF-8 bytes.
    package static let maximumLength = 1024

    /// Checks a key: non-empty, at most 1024 UTF-8 bytes, no leading or trailing `/`, no empty, `.` or `..`
    /// segment, no control characters.
    /// - Throws: ``ObjectStoreError`` with ``ObjectStoreError/Code/invalidKey``.
    package static func validate(_ key: String) throws {
        func invalid(_ why: String) -> ObjectStoreError {
            ObjectStoreError(.invalidKey, "invalid object key: \(why)", key: key)
        }
        guard !key.isEmpty else { throw invalid("it is empty") }
        guard key.utf8.count <= maximumLength else { throw invalid("longer than \(maximumLength) bytes") }
        guard !key.hasPrefix("/") else { throw invalid("it starts with /") }
        guard !key.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw invalid("it contains a control character")
        }
        for segment in key.split(separator: "/", omittingEmptySubsequences: false) {
            if segment.isEmpty { throw invalid("it has an empty path segment (// or a trailing /)") }
            if segment == "." || segment == ".." { throw invalid("it has a . or .. segment") }
        }
    }

    /// Checks a listing prefix: empty, or the start of a valid key (its complete segments neither empty, `.` nor
    /// `..`), so that a store on a file system never walks outside its root.
    /// - Throws: ``ObjectStoreError`` with ``ObjectStoreError/Code/invalidKey``.
    package static func validatePrefix(_ prefix: String) throws {
        guard !prefix.isEmpty else { return }
        let invalid = ObjectStoreError(.invalidKey, "invalid listing prefix", key: prefix)
        guard !prefix.hasPrefix("/"), !prefix.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F })
        else { throw invalid }
        var segments = prefix.split(separator: "/", omittingEmptySubsequences: false)
        if prefix.hasSuffix("/") { segments.removeLast() }
        for (index, segment) in segments.enumerated() {
            // The last, partial segment may be empty or a start of a name (`.` starts `.dynokeeper-…`), but the
            // complete ones are folders.
            let complete = index < segments.count - 1 || prefix.hasSuffix("/")
            if complete && (segment.isEmpty || segment == "." || segment == "..") { throw invalid }
            if !complete && segment == ".." { throw invalid }
        }
    }

    /// Whether `a` sorts before `b` in the byte order of their UTF-8 encodings, which is S3's listing order.
    package static func precedes(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }
}
