package import NIOCore

extension ObjectStore {
    /// Stores a small object held in memory.
    /// - Parameters:
    ///   - key: The object's key.
    ///   - bytes: Its content.
    ///   - options: Content type and similar settings.
    @discardableResult
    package func put(_ key: String, bytes: ByteBuffer, options: PutOptions = PutOptions()) async throws -> ObjectInfo {
        try await put(key, body: ByteStream(buffers: bytes.readableBytes == 0 ? [] : [bytes]), options: options)
    }

    /// Reads a whole small object into memory.
    /// - Parameters:
    ///   - key: The object's key.
    ///   - limit: The largest size accepted.
    package func getBytes(_ key: String, limit: Int = 64 << 20) async throws -> ByteBuffer {
        let download = try await get(key, range: nil)
        guard download.info.size <= Int64(limit) else {
            throw ObjectStoreError(
                .invalidRequest, "object is \(download.info.size) bytes, more than \(limit) expected", key: key)
        }
        return try await download.body.collect(upTo: limit)
    }

    /// Every object under a prefix, page after page.
    /// - Parameters:
    ///   - prefix: The start of the keys.
    ///   - pageSize: How many to ask for at once.
    package func listAll(prefix: String, pageSize: Int = 1000) async throws -> [ObjectInfo] {
        var objects: [ObjectInfo] = []
        var continuation: String?
        repeat {
            let page = try await list(prefix: prefix, delimiter: nil, continuation: continuation, maxKeys: pageSize)
            objects += page.objects
            continuation = page.continuation
        } while continuation != nil
        return objects
    }

    /// The "folders" right under a prefix (keys rolled up at the next `/`), page after page.
    package func listFolders(prefix: String, pageSize: Int = 1000) async throws -> [String] {
        var folders: [String] = []
        var continuation: String?
        repeat {
            let page = try await list(prefix: prefix, delimiter: "/", continuation: continuation, maxKeys: pageSize)
            folders += page.commonPrefixes
            continuation = page.continuation
        } while continuation != nil
        return folders
    }
}
