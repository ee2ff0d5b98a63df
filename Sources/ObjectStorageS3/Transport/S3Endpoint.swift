import AWSSigV4

/// Where requests for a bucket go, and how the bucket is addressed.
struct S3Endpoint: Sendable {
    var scheme: String
    var host: String
    var port: Int?
    /// Path-style (`host/bucket/key`) or virtual-hosted style (`bucket.host/key`).
    var pathStyle: Bool
    var bucket: String

    /// - Parameters:
    ///   - endpoint: A custom endpoint such as `http://127.0.0.1:8333`, or `nil` for AWS in `region`.
    ///   - region: The AWS region.
    ///   - bucket: The bucket.
    ///   - pathStyle: Forces one addressing style; by default virtual-hosted on AWS and path-style on
    ///     custom endpoints (which rarely have a DNS name per bucket), and path-style for bucket names with
    ///     dots over TLS (their names break wildcard certificates).
    init(endpoint: String?, region: String, bucket: String, pathStyle: Bool?) throws {
        self.bucket = bucket
        if let endpoint {
            guard let schemeEnd = endpoint.range(of: "://") else {
                throw S3ConfigurationError("storage endpoint \(endpoint) must start with http:// or https://")
            }
            scheme = String(endpoint[..<schemeEnd.lowerBound]).lowercased()
            guard scheme == "http" || scheme == "https" else {
                throw S3ConfigurationError("storage endpoint \(endpoint) must start with http:// or https://")
            }
            let authority = endpoint[schemeEnd.upperBound...].prefix { $0 != "/" }
            guard authority.count == endpoint[schemeEnd.upperBound...].trimmingSuffix("/").count else {
                throw S3ConfigurationError("storage endpoint \(endpoint) must not have a path")
            }
            if let colon = authority.lastIndex(of: ":"), !authority.hasSuffix("]") {
                host = String(authority[..<colon])
                guard let number = Int(authority[authority.index(after: colon)...]), (1...65535).contains(number) else {
                    throw S3ConfigurationError("storage endpoint \(endpoint) has an invalid port")
                }
                port = number
            } else {
                host = String(authority)
                port = nil
            }
            guard !host.isEmpty else { throw S3ConfigurationError("storage endpoint \(endpoint) has no host") }
            self.pathStyle = pathStyle ?? true
        } else {
            scheme = "https"
            host = "s3.\(region).amazonaws.com"
            port = nil
            self.pathStyle = pathStyle ?? bucket.contains(".")
        }
    }

    /// The `Host` header: the host, with the port unless it is the scheme's default.
    var hostHeader: String {
        let base = pathStyle ? host : "\(bucket).\(host)"
        guard let port, !(scheme == "http" && port == 80), !(scheme == "https" && port == 443) else { return base }
        return "\(base):\(port)"
    }

    /// The decoded path of a key (or of the bucket, for `nil`).
    func path(key: String?) -> String {
        let keyPart = key.map { "/" + $0 } ?? "/"
        return pathStyle ? "/" + bucket + (key == nil ? "" : keyPart) : keyPart
    }

    /// The URL to send: the path and query encoded exactly as they are signed.
    func url(path: String, query: [(name: String, value: String)]) -> String {
        var url = "\(scheme)://\(hostHeader)\(SigV4Encoding.encode(path, keepSlash: true))"
        if !query.isEmpty { url += "?" + SigV4Encoding.canonicalQuery(query) }
        return url
    }
}

extension Substring {
    fileprivate func trimmingSuffix(_ suffix: String) -> Substring {
        var result = self
        while result.hasSuffix(suffix) { result = result.dropLast(suffix.count) }
        return result
    }
}
