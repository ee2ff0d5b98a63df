import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
package import ObjectStorage

extension S3Store {
    package func get(_ key: String, range: Range<Int64>?) async throws -> ObjectDownload {
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
        // A body that breaks off is continued from the last byte received, from the same version of the object.
        let body = ResumingBody(
            store: self, key: key, fullKey: fullKey, etag: info.etag, size: info.size, range: bytes,
            first: response.body)
        return ObjectDownload(info: info, range: bytes, body: ByteStream(body))
    }

    /// Asks for bytes `range` of the version `etag` (the rest of a range after its body broke off), once: the
    /// caller's loop retries. Without an ETag, bytes from another version could be joined on unnoticed: refused.
    /// - Parameter size: The object's size as first seen; another size is another version.
    func resume(
        _ range: Range<Int64>, key: String, fullKey: String, etag: String?, size: Int64?, retrying: Bool
    ) async throws -> HTTPClientResponse.Body {
        var request = S3Request(
            method: .GET, key: fullKey, headers: [("range", "bytes=\(range.lowerBound)-\(range.upperBound - 1)")],
            action: "download of bytes \(range.lowerBound)-\(range.upperBound - 1) of \(fullKey)")
        guard let etag else {
            throw ObjectStoreError(
                .integrity,
                "\(request.action): the store gave the object no ETag, so a broken-off download cannot be continued safely"
            )
        }
        request.headers.append(("if-match", "\"\(etag)\""))
        let response = try await sendStreaming(request, acceptedStatus: [206], retrying: retrying)
        let (info, returned) = try describe(response, key: key, fullKey: fullKey)
        guard returned == range, size == nil || info.size == size, info.etag == nil || info.etag == etag else {
            throw ObjectStoreError(
                .integrity,
                "\(request.action): the store answered bytes \(returned.lowerBound)-\(returned.upperBound - 1) of \(info.size) (ETag \(info.etag ?? "none")), not the version being read"
            )
        }
        return response.body
    }

    /// Reads the object's size, version and the range actually returned from a GET response.
    private func describe(
        _ response: HTTPClientResponse, key: String, fullKey: String
    ) throws -> (ObjectInfo, Range<Int64>) {
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
                throw ObjectStoreError(
                    .integrity, "download of \(fullKey): partial answer without a usable Content-Range")
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

    package func download(_ key: String) async throws -> ObjectDownload {
        guard let info = try await head(key) else {
            throw ObjectStoreError(.notFound, "no such object in \(location)", key: key)
        }
        let rangeSize = Int64(configuration.downloadRangeSize)
        guard info.size > rangeSize else { return try await get(key, range: nil) }
        let fullKey = configuration.location.fullKey(key)
        let reader = ParallelRangeReader(
            range: 0..<info.size, partSize: rangeSize, concurrency: configuration.rangesInFlight
        ) {
            part in
            try await self.fetchRange(part, key: key, fullKey: fullKey, etag: info.etag)
        }
        return ObjectDownload(info: info, range: 0..<info.size, body: ByteStream(reader))
    }

    /// Fetches one range whole; a body that breaks off is continued from the last byte received. `If-Match`
    /// makes sure every range comes from the same version of the object.
    private func fetchRange(
        _ range: Range<Int64>, key: String, fullKey: String, etag: String?
    ) async throws -> ByteBuffer {
        var collected = ByteBuffer()
        collected.reserveCapacity(range.count)
        let body = ResumingBody(
            store: self, key: key, fullKey: fullKey, etag: etag, size: nil, range: range, first: nil)
        for try await chunk in body {
            var chunk = chunk
            collected.writeBuffer(&chunk)
        }
        return collected
    }
}

/// A download's body that continues from the last byte received when it breaks off or ends early (a reset, a
/// proxy that cuts it), with `Range` and `If-Match`, under the store's retry policy: failures in a row count,
/// bytes received in between start the count again.
struct ResumingBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let store: S3Store
    let key: String
    let fullKey: String
    let etag: String?
    /// The object's size as first seen (`nil` when not known yet).
    let size: Int64?
    let range: Range<Int64>
    /// The body of the response already received, if any; otherwise the first request is made on the first read.
    let first: HTTPClientResponse.Body?

    struct AsyncIterator: AsyncIteratorProtocol {
        let body: ResumingBody
        var current: HTTPClientResponse.Body.AsyncIterator?
        var received: Int64 = 0
        var retries: RetryState

        init(_ body: ResumingBody) {
            self.body = body
            current = body.first?.makeAsyncIterator()
            retries = RetryState(body.store.configuration.retry)
        }

        mutating func next() async throws -> ByteBuffer? {
            while true {
                if received == Int64(body.range.count) {
                    // Everything arrived; a longer body would be a different object.
                    if var current, let extra = try? await current.next(), extra.readableBytes > 0 {
                        throw ObjectStoreError(
                            .integrity,
                            "download of \(body.fullKey) sent more than the \(body.range.count) bytes announced")
                    }
                    return nil
                }
                do {
                    if current == nil {
                        let rest = (body.range.lowerBound + received)..<body.range.upperBound
                        // This loop does the retrying: one attempt per round.
                        current = try await body.store.resume(
                            rest, key: body.key, fullKey: body.fullKey, etag: body.etag, size: body.size,
                            retrying: false
                        ).makeAsyncIterator()
                    }
                    guard let chunk = try await current!.next() else {
                        throw ObjectStoreError(
                            .unavailable,
                            "download of \(body.fullKey) ended after \(received) of \(body.range.count) bytes")
                    }
                    received += Int64(chunk.readableBytes)
                    guard received <= Int64(body.range.count) else {
                        throw ObjectStoreError(
                            .integrity,
                            "download of \(body.fullKey) sent more than the \(body.range.count) bytes announced")
                    }
                    if chunk.readableBytes > 0 { retries.madeProgress() }
                    return chunk
                } catch let error as ObjectStoreError where !error.isRetryable {
                    throw error
                } catch is CancellationError {
                    throw CancellationError()
                } catch {
                    current = nil
                    let failure =
                        (error as? ObjectStoreError)
                        ?? ObjectStoreError(
                            .unavailable,
                            "download of \(body.fullKey) broke off after \(received) of \(body.range.count) bytes: \((error as? IOError).map { String(cString: strerror($0.errnoCode)) } ?? "\(error)")"
                        )
                    let wait = try retries.failed(failure)
                    body.store.logger.warning(
                        "resuming \(failure.message) from byte \(body.range.lowerBound + received) in \(wait)")
                    try await Task.sleep(for: wait)
                }
            }
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(self) }
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
        if let date = try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) {
            return date
        }
        return try? Date(text, strategy: Date.ISO8601FormatStyle())
    }
}
