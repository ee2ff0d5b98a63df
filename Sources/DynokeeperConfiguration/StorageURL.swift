/// Where snapshots are stored: an S3 bucket and prefix, or a local folder.
package enum StorageURL: Sendable, Equatable, CustomStringConvertible {
    case s3(bucket: String, prefix: String)
    case file(path: String)

    /// The default: `./var/backups`, a folder beside where dynokeeper runs.
    package static let defaultLocal = StorageURL.file(path: "var/backups")

    /// Parses `s3://bucket[/prefix]`, `file:///path` or a plain path.
    package init(parsing text: String) throws {
        if text.hasPrefix("s3://") {
            let rest = text.dropFirst(5)
            let bucket = String(rest.prefix { $0 != "/" })
            guard !bucket.isEmpty else { throw ConfigurationError("no bucket in \(text)") }
            self = .s3(bucket: bucket, prefix: Self.tidy(String(rest.dropFirst(bucket.count))))
        } else if text.hasPrefix("file://") {
            let path = String(text.dropFirst(7))
            guard !path.isEmpty else { throw ConfigurationError("no path in \(text)") }
            self = .file(path: path)
        } else if text.contains("://") {
            throw ConfigurationError("unsupported storage scheme in \(text)")
        } else {
            guard !text.isEmpty else { throw ConfigurationError("empty storage path") }
            self = .file(path: text)
        }
    }

    /// A key prefix's segments joined by `/`: no leading, trailing or repeated slashes.
    static func tidy(_ prefix: String) -> String { prefix.split(separator: "/").joined(separator: "/") }

    package var description: String {
        switch self {
        case .s3(let bucket, let prefix): return prefix.isEmpty ? "s3://\(bucket)" : "s3://\(bucket)/\(prefix)"
        case .file(let path): return path.hasPrefix("/") ? "file://\(path)" : path
        }
    }
}
