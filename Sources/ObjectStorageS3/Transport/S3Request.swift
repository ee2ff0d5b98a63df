import NIOCore
import NIOHTTP1

/// One S3 API call before signing: the method, the object (or the bucket), the query and extra headers.
struct S3Request: Sendable {
    var method: HTTPMethod
    /// The full key (prefix included), or `nil` for a call on the bucket.
    var key: String?
    var query: [(name: String, value: String)] = []
    var headers: [(name: String, value: String)] = []
    /// The body, always held in memory whole (at most one part), so that a retry can send it again.
    var body: ByteBuffer?
    /// What the call does, for messages: "upload part 3 of backups/x.rdb".
    var action: String
}

/// A response whose body was read whole.
struct S3Response: Sendable {
    var status: HTTPResponseStatus
    var headers: HTTPHeaders
    var body: ByteBuffer

    var etag: String? { headers.first(name: "etag").map(S3Response.unquote) }

    static func unquote(_ etag: String) -> String {
        etag.hasPrefix("\"") && etag.hasSuffix("\"") && etag.count >= 2 ? String(etag.dropFirst().dropLast()) : etag
    }
}
