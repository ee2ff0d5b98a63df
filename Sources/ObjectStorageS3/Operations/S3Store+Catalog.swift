import Crypto
import Foundation
import NIOCore
import NIOHTTP1
package import ObjectStorage

extension S3Store {
    package func head(_ key: String) async throws -> ObjectInfo? {
        try ObjectKey.validate(key)
        let fullKey = configuration.location.fullKey(key)
        let request = S3Request(method: .HEAD, key: fullKey, action: "lookup of \(fullKey)")
        let response: S3Response
        do {
            response = try await send(request)
        } catch let error as ObjectStoreError where error.code == .notFound {
            return nil
        }
        guard let size = response.headers.first(name: "content-length").flatMap({ Int64($0) }) else {
            throw ObjectStoreError(.integrity, "lookup of \(fullKey): answer without Content-Length")
        }
        return ObjectInfo(
            key: key, size: size, etag: response.etag,
            lastModified: response.headers.first(name: "last-modified").flatMap(HTTPDate.parse))
    }

    package func list(
        prefix: String, delimiter: String?, continuation: String?, maxKeys: Int
    ) async throws -> ObjectListing {
        // A literal key root with empty segments (`/dm//`): AWS S3 keeps such keys as they are, but some S3-compatible
        // stores (SeaweedFS) store them collapsed (`dm/`) and list nothing under the literal prefix. When the literal
        // listing is empty, the collapsed one is read; its continuation tokens are marked to stay on it.
        let location = configuration.location
        let collapsed = location.collapsedKeyRoot
        if let continuation, continuation.hasPrefix(Self.collapsedMarker), collapsed != location.keyRoot {
            return try await listPage(
                fullPrefix: collapsed + prefix, delimiter: delimiter,
                continuation: String(continuation.dropFirst(Self.collapsedMarker.count)), maxKeys: maxKeys
            ).markingContinuation()
        }
        let page = try await listPage(
            fullPrefix: location.fullKey(prefix), delimiter: delimiter, continuation: continuation, maxKeys: maxKeys)
        guard continuation == nil, page.objects.isEmpty, page.commonPrefixes.isEmpty, collapsed != location.keyRoot
        else { return page }
        return try await listPage(
            fullPrefix: collapsed + prefix, delimiter: delimiter, continuation: nil, maxKeys: maxKeys
        ).markingContinuation()
    }

    fileprivate static let collapsedMarker = "collapsed-root:"

    private func listPage(
        fullPrefix: String, delimiter: String?, continuation: String?, maxKeys: Int
    ) async throws -> ObjectListing {
        let location = configuration.location
        var query: [(name: String, value: String)] = [
            ("list-type", "2"), ("prefix", fullPrefix), ("max-keys", String(max(1, min(maxKeys, 1000)))),
        ]
        if let delimiter { query.append(("delimiter", delimiter)) }
        if let continuation { query.append(("continuation-token", continuation)) }
        let request = S3Request(method: .GET, key: nil, query: query, action: "listing of \(fullPrefix)")
        let response = try await send(request)
        let tree: XMLTree
        do {
            tree = try XMLTree.parse(Data(response.body.readableBytesView))
        } catch {
            throw ObjectStoreError(.other, "listing of \(fullPrefix) at \(self.location): unreadable answer: \(error)")
        }
        let objects = tree.children("Contents").compactMap { entry -> ObjectInfo? in
            guard let fullKey = entry.value("Key"), let key = location.storeKey(fullKey) else { return nil }
            return ObjectInfo(
                key: key, size: entry.value("Size").flatMap { Int64($0) } ?? 0,
                etag: entry.value("ETag").map(S3Response.unquote),
                lastModified: entry.value("LastModified").flatMap(HTTPDate.parseISO8601))
        }
        let prefixes = tree.children("CommonPrefixes").compactMap { $0.value("Prefix").flatMap(location.storeKey) }
        let truncated = tree.value("IsTruncated") == "true"
        let next = tree.value("NextContinuationToken")
        if truncated && next == nil {
            throw ObjectStoreError(
                .other, "listing of \(fullPrefix) at \(self.location): truncated without a continuation token")
        }
        return ObjectListing(objects: objects, commonPrefixes: prefixes, continuation: truncated ? next : nil)
    }

    package func delete(_ keys: [String]) async throws {
        for key in keys { try ObjectKey.validate(key) }
        var failures: [String] = []
        for start in stride(from: 0, to: keys.count, by: 1000) {
            let batch = keys[start..<min(start + 1000, keys.count)]
            var xml = "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>"
            for key in batch { xml += "<Object><Key>\(xmlEscape(configuration.location.fullKey(key)))</Key></Object>" }
            xml += "</Delete>"
            let body = ByteBuffer(string: xml)
            let md5 = Data(Insecure.MD5.hash(data: Array(xml.utf8))).base64EncodedString()
            let request = S3Request(
                method: .POST, key: nil, query: [("delete", "")],
                headers: [("content-md5", md5), ("content-type", "application/xml")], body: body,
                action: "deletion of \(batch.count) object(s)")
            let response = try await send(request)
            let tree = try? XMLTree.parse(Data(response.body.readableBytesView))
            for error in tree?.children("Error") ?? [] {
                failures.append(
                    "\(error.value("Key") ?? "?"): \(error.value("Code") ?? "?") \(error.value("Message") ?? "")")
            }
        }
        if !failures.isEmpty {
            throw ObjectStoreError(
                .other,
                "could not delete \(failures.count) object(s) at \(location): \(failures.joined(separator: "; "))")
        }
    }
}

extension ObjectListing {
    /// The same page, its continuation token marked as one of the collapsed root's listing.
    fileprivate func markingContinuation() -> ObjectListing {
        ObjectListing(
            objects: objects, commonPrefixes: commonPrefixes,
            continuation: continuation.map { S3Store.collapsedMarker + $0 })
    }
}

extension S3Store: IncompleteUploadCleaning {
    /// `ListMultipartUploads` under the store's root, all pages.
    package func incompleteUploads(prefix: String) async throws -> [IncompleteUpload] {
        let location = configuration.location
        let fullPrefix = location.fullKey(prefix)
        var uploads: [IncompleteUpload] = []
        var marker: (key: String, upload: String)?
        for _ in 0..<10_000 {
            var query: [(name: String, value: String)] = [("uploads", ""), ("prefix", fullPrefix)]
            if let marker { query += [("key-marker", marker.key), ("upload-id-marker", marker.upload)] }
            let request = S3Request(
                method: .GET, key: nil, query: query, action: "listing of multipart uploads under \(fullPrefix)")
            let response = try await send(request)
            let tree: XMLTree
            do {
                tree = try XMLTree.parse(Data(response.body.readableBytesView))
            } catch {
                throw ObjectStoreError(.other, "\(request.action) at \(self.location): unreadable answer: \(error)")
            }
            for upload in tree.children("Upload") {
                guard let fullKey = upload.value("Key"), let key = location.storeKey(fullKey),
                    let id = upload.value("UploadId")
                else { continue }
                uploads.append(
                    IncompleteUpload(
                        key: key, id: id, started: upload.value("Initiated").flatMap(HTTPDate.parseISO8601)))
            }
            guard tree.value("IsTruncated") == "true", let key = tree.value("NextKeyMarker"),
                let upload = tree.value("NextUploadIdMarker")
            else {
                break
            }
            marker = (key, upload)
        }
        return uploads
    }

    package func abort(_ upload: IncompleteUpload) async throws {
        let fullKey = configuration.location.fullKey(upload.key)
        let request = S3Request(
            method: .DELETE, key: fullKey, query: [("uploadId", upload.id)],
            action: "abort of multipart upload of \(fullKey)")
        do {
            _ = try await send(request)
        } catch let error as ObjectStoreError where error.code == .notFound {
            return  // aborted meanwhile
        }
    }
}
