import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
public import ObjectStorage

extension S3Store {
    public func get(_ key: String, range: Range<Int64>?) async throws -> ObjectDownload {
        try ObjectKey.validate(key)
        let fullKey = configuration.location.fullKey(key)
        var request = S3Request(method: .GET, key: fullKey, action: "download of \(fullKey)")
        if let range {
            guard range.lowerBound >= 0 else {
                throw ObjectStoreError(.invalidRequest, "negative range start \(range.lowerBound)", key: key)
            }
            if range.isEmpty {
                // HTTP cannot ask for zero bytes; describe the object and return nothing.
                guard let info = try await head(key) else {
                    throw ObjectStoreError(.notFound, "no such object in \(location)", key: key)
                }
                return ObjectDownload(info: info, range: range, body: ByteStream(buffers: []))
            }
            request.headers.append(("range", "bytes=\(range.lowerBound)-\(range.upperBound - 1)"))
        }
        let response: HTTPClientResponse
        do {
            response = try await sendStreaming(request, acceptedStatus: [200, 206])
        } catch let error as ObjectStoreError where error.code == .notFound {
            throw ObjectStoreError(.notFound, "no such object in \(location)", key: key)
        }
        let (info, bytes) = try describe(response, key: key, fullKey: fullKey)
        let body = CountedBody(base: response.body, expected: Int64(bytes.count), what: "download of \(fullKey)")
        return ObjectDownload(info: info, range: bytes, body: ByteStream(body))
    }

    /// Reads the object's size, version and the range actually returned from a GET response.
    private func describe(_ response: HTTPClientResponse, key: String, fullKey: String) throws -> (ObjectInfo, Range<Int64>) {
        let length = response.headers.first(name: "content-length").flatMap { Int64($0) }
        var total = length
        var returned: Range<Int64>? = length.map { 0..<$0 }
        if response.status == .partialContent {
            // Content-Range: bytes 0-9/1234
            guard let header = response.headers.first(name: "content-range"),
                let rangePart = header.split(separator: " ").last?.split(separator: "/").first,
                let totalPart = header.split(separator: "/").last, let size = Int64(totalPart),
                let start = rangePart.split(separator: "-").first.flatMap({ Int64($0) }),
                let end = rangePart.split(separator: "-").last.flatMap({ Int64($0) })
            else {
                throw ObjectStoreError(.integrity, "download of \(fullKey): partial answer without a usable Content-Range")
            }
            total = size
            returned = start..<(end + 1)
        }
        guard let total, let returned else {
            throw ObjectStoreError(.integrity, "download of \(fullKey): answer without Content-Length")
        }
        let info = ObjectInfo(
            key: key, size: total, etag: response.headers.first(name: "etag").map(S3Response.unquote),
            lastModified: response.headers.first(name: "last-modified").flatMap(HTTPDate.parse))
        return (info, returned)
    }

    public func download(_ key: String) async throws -> ObjectDownload {
        guard let info = try await head(key) else {
            throw ObjectStoreError(.notFound, "no such object in \(location)", key: key)
        }
        let partSize = Int64(configuration.partSize)
        guard info.size > partSize else { return try await get(key, range: nil) }
        let fullKey = configuration.location.fullKey(key)
        let reader = ParallelRangeReader(range: 0..<info.size, partSize: partSize, concurrency: configuration.concurrency) {
            part in
            try await self.fetchRange(part, fullKey: fullKey, etag: info.etag)
        }
        return ObjectDownload(info: info, range: 0..<info.size, body: ByteStream(reader))
    }

    /// Fetches one range whole, retrying a broken transfer from the start of the range; `If-Match` makes
    /// sure every range comes from the same version of the object.
    private func fetchRange(_ range: Range<Int64>, fullKey: String, etag: String?) async throws -> ByteBuffer {
        var request = S3Request(
            method: .GET, key: fullKey,
            headers: [("range", "bytes=\(range.lowerBound)-\(range.upperBound - 1)")],
            action: "download of bytes \(range.lowerBound)-\(range.upperBound - 1) of \(fullKey)")
        if let etag { request.headers.append(("if-match", "\"\(etag)\"")) }
        let response = try await send(request, acceptedStatus: [206]) { response in
            guard response.body.readableBytes == range.count else {
                throw ObjectStoreError(
                    .unavailable, "\(request.action): received \(response.body.readableBytes) of \(range.count) bytes")
            }
        }
        return response.body
    }
}

/// Passes a response body through, and fails if it ends before (or goes past) the announced length.
struct CountedBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let base: HTTPClientResponse.Body
    let expected: Int64
    let what: String

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: HTTPClientResponse.Body.AsyncIterator
        let expected: Int64
        let what: String
        var received: Int64 = 0

        mutating func next() async throws -> ByteBuffer? {
            let chunk: ByteBuffer?
            do {
                chunk = try await base.next()
            } catch {
                throw ObjectStoreError(.unavailable, "\(what) broke off after \(received) of \(expected) bytes: \(error)")
            }
            guard let chunk else {
                guard received == expected else {
                    throw ObjectStoreError(.integrity, "\(what) ended after \(received) of \(expected) bytes")
                }
                return nil
            }
            received += Int64(chunk.readableBytes)
            guard received <= expected else {
                throw ObjectStoreError(.integrity, "\(what) sent more than the \(expected) bytes announced")
            }
            return chunk
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: base.makeAsyncIterator(), expected: expected, what: what)
    }
}

/// Dates as HTTP headers write them (RFC 1123) and as S3 listings write them (ISO 8601).
enum HTTPDate {
    static func parse(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: text)
    }

    static func parseISO8601(_ text: String) -> Date? {
        if let date = try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) { return date }
        return try? Date(text, strategy: Date.ISO8601FormatStyle())
    }
}
