import AWSSigV4
import Foundation
package import NIOCore
import NIOHTTP1
package import ObjectStorage

extension S3Store {
    package func put<Body: AsyncSequence & Sendable>(
        _ key: String, body: Body, options: PutOptions
    ) async throws -> ObjectInfo where Body.Element == ByteBuffer {
        try ObjectKey.validate(key)
        let fullKey = configuration.location.fullKey(key)
        var parts = PartReader(body.makeAsyncIterator(), partSize: partSize(for: options))
        let first = try await parts.next(first: true)!
        if parts.isFinished {
            return try await putSingle(key: key, fullKey: fullKey, bytes: first, options: options)
        }
        return try await putMultipart(key: key, fullKey: fullKey, first: first, rest: &parts, options: options)
    }

    /// The configured part size, raised when a size hint says 10,000 parts would not be enough.
    func partSize(for options: PutOptions) -> Int {
        guard let hint = options.sizeHint else { return configuration.partSize }
        let needed = Int(
            (hint + Int64(S3StoreConfiguration.maximumParts) - 1) / Int64(S3StoreConfiguration.maximumParts - 500))
        let rounded = (needed + (1 << 20) - 1) / (1 << 20) * (1 << 20)
        return max(configuration.partSize, rounded)
    }

    private func putSingle(
        key: String, fullKey: String, bytes: ByteBuffer, options: PutOptions
    ) async throws -> ObjectInfo {
        let digests = PayloadDigests(bytes)
        var request = S3Request(method: .PUT, key: fullKey, body: bytes, action: "upload of \(fullKey)")
        request.headers =
            [("content-md5", digests.md5Base64), ("content-type", options.contentType)]
            + configuration.encryptionHeaders
        let response = try await send(request, payloadHash: digests.sha256)
        try checkETag(response.etag, expected: digests.md5Hex, what: "upload of \(fullKey)")
        return ObjectInfo(key: key, size: Int64(bytes.readableBytes), etag: response.etag, lastModified: Date())
    }

    private func putMultipart<Base>(
        key: String, fullKey: String, first: ByteBuffer, rest parts: inout PartReader<Base>, options: PutOptions
    ) async throws -> ObjectInfo where Base.Element == ByteBuffer {
        var create = S3Request(
            method: .POST, key: fullKey, query: [("uploads", "")], action: "start of multipart upload of \(fullKey)")
        create.headers = [("content-type", options.contentType)] + configuration.encryptionHeaders
        let created = try await send(create)
        guard let tree = try? XMLTree.parse(Data(created.body.readableBytesView)), let uploadID = tree.value("UploadId")
        else {
            throw ObjectStoreError(
                .other, "start of multipart upload of \(fullKey) at \(location): no UploadId in the answer")
        }
        do {
            var uploaded: [UploadedPart] = []
            var size: Int64 = 0
            let concurrency = configuration.uploadsInFlight(partSize: first.readableBytes)
            // Parts done: a part that fails again after others went through starts counting its attempts anew.
            let progress = TransferProgressCount()
            try await withThrowingTaskGroup(of: UploadedPart.self) { group in
                var number = 0
                var inFlight = 0
                var next: ByteBuffer? = first
                while let part = next {
                    number += 1
                    guard number <= S3StoreConfiguration.maximumParts else {
                        throw ObjectStoreError(
                            .invalidRequest,
                            "\(fullKey) needs more than \(S3StoreConfiguration.maximumParts) parts of \(part.readableBytes >> 20) MiB; raise the part size",
                            key: key)
                    }
                    if inFlight == concurrency {
                        uploaded.append(try await group.next()!)
                        inFlight -= 1
                    }
                    size += Int64(part.readableBytes)
                    let partNumber = number
                    group.addTask {
                        let done = try await self.uploadPart(
                            part, number: partNumber, uploadID: uploadID, fullKey: fullKey, progress: progress)
                        progress.advance()
                        return done
                    }
                    inFlight += 1
                    next = try await parts.next()
                }
                for try await result in group { uploaded.append(result) }
            }
            uploaded.sort { $0.number < $1.number }
            let etag = try await completeMultipart(fullKey: fullKey, uploadID: uploadID, parts: uploaded)
            try checkETag(
                etag, expected: PayloadDigests.multipartETag(partMD5s: uploaded.map(\.md5)),
                what: "multipart upload of \(fullKey)")
            return ObjectInfo(key: key, size: size, etag: etag, lastModified: Date())
        } catch {
            await abortMultipart(fullKey: fullKey, uploadID: uploadID)
            throw error
        }
    }

    private func uploadPart(
        _ part: ByteBuffer, number: Int, uploadID: String, fullKey: String, progress: TransferProgressCount
    ) async throws -> UploadedPart {
        let digests = PayloadDigests(part)
        var request = S3Request(
            method: .PUT, key: fullKey, query: [("partNumber", String(number)), ("uploadId", uploadID)], body: part,
            action: "upload of part \(number) of \(fullKey)")
        request.headers = [("content-md5", digests.md5Base64)]
        let response = try await send(request, payloadHash: digests.sha256, progress: progress)
        guard let etag = response.etag else {
            throw ObjectStoreError(.integrity, "upload of part \(number) of \(fullKey): no ETag in the answer")
        }
        try checkETag(etag, expected: digests.md5Hex, what: "upload of part \(number) of \(fullKey)")
        return UploadedPart(number: number, etag: etag, md5: digests.md5)
    }

    private func completeMultipart(
        fullKey: String, uploadID: String, parts: [UploadedPart]
    ) async throws -> String? {
        var xml = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        for part in parts {
            xml += "<Part><PartNumber>\(part.number)</PartNumber><ETag>\"\(xmlEscape(part.etag))\"</ETag></Part>"
        }
        xml += "</CompleteMultipartUpload>"
        let request = S3Request(
            method: .POST, key: fullKey, query: [("uploadId", uploadID)],
            headers: [("content-type", "application/xml")],
            body: ByteBuffer(string: xml), action: "completion of multipart upload of \(fullKey)")
        let response = try await send(request) { response in
            // S3 may answer 200 and put an error in the body, since it starts answering before it is done.
            if let document = S3ErrorMapping.ErrorDocument(response.body) {
                throw S3ErrorMapping.error(
                    status: document.code == "InternalError" ? .internalServerError : .badRequest,
                    body: response.body, request: request, location: self.location)
            }
        }
        let tree = try? XMLTree.parse(Data(response.body.readableBytesView))
        return tree?.value("ETag").map(S3Response.unquote) ?? response.etag
    }

    /// A few quick tries of a clean-up after a failure: the failure is reported within the configured bound, and
    /// what a clean-up leaves, `gc` (or a lifecycle rule) removes later.
    var cleanUpRetry: RetryPolicy {
        RetryPolicy(
            maxAttempts: min(3, configuration.retry.maxAttempts), baseDelay: configuration.retry.baseDelay,
            maxDelay: .seconds(2), giveUpAfter: .seconds(5))
    }

    /// Aborts an upload so that no parts linger (and cost), even when the caller was cancelled.
    func abortMultipart(fullKey: String, uploadID: String) async {
        let request = S3Request(
            method: .DELETE, key: fullKey, query: [("uploadId", uploadID)],
            action: "abort of multipart upload of \(fullKey)")
        let store = self
        let task = Task {
            do {
                _ = try await store.send(request, acceptedStatus: [200, 204, 404], retry: store.cleanUpRetry)
            } catch {
                store.logger.error(
                    "could not abort multipart upload \(uploadID) of \(fullKey): \(error); its parts stay until dynokeeper gc, a lifecycle rule or `aws s3api abort-multipart-upload` removes them"
                )
            }
        }
        await task.value
    }

    /// Checks an ETag against the MD5 it should be, when it looks like one (SSE-KMS and some services
    /// return other forms, which cannot be checked).
    func checkETag(_ etag: String?, expected: String, what: String) throws {
        guard let etag else { return }
        let looksLikeMD5 =
            etag.count == expected.count
            && etag.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) || $0 == UInt8(ascii: "-") }
        if case .kms = configuration.serverSideEncryption { return }
        if looksLikeMD5 && etag != expected {
            throw ObjectStoreError(
                .integrity, "\(what): the store's ETag \(etag) does not match the data's \(expected)")
        }
    }
}

/// One part of a multipart upload, once stored. A struct, not a tuple: Swift 6.3's optimizer miscompiles some
/// tuple-returning child tasks (docs/swift-6.3-miscompile), so task groups here return structs.
struct UploadedPart: Sendable {
    var number: Int
    var etag: String
    var md5: [UInt8]
}
