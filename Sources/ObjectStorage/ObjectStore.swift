package import NIOCore

/// Where backups live: a flat namespace of keys holding immutable byte objects, as S3 defines it.
///
/// Keys are relative to the store's root (a bucket and prefix for S3, a folder for the local store) and use `/`
/// to build folders. Every operation is safe to call concurrently.
package protocol ObjectStore: Sendable {
    /// Where the store points, such as `s3://bucket/prefix` or `file:///var/backups`, for messages.
    var location: String { get }

    /// Stores an object from a stream of bytes, replacing any object under the same key.
    ///
    /// The object becomes visible whole or not at all: a failure or cancellation midway leaves no partial
    /// object behind (for S3, a multipart upload is aborted).
    /// - Parameters:
    ///   - key: The object's key.
    ///   - body: The bytes, read once, in order.
    ///   - options: Content type and similar settings.
    /// - Returns: What was stored.
    func put<Body: AsyncSequence & Sendable>(
        _ key: String, body: Body, options: PutOptions
    ) async throws -> ObjectInfo where Body.Element == ByteBuffer

    /// Reads an object, or a range of it, as a stream.
    /// - Parameters:
    ///   - key: The object's key.
    ///   - range: The bytes to read; `nil` for the whole object. An upper bound past the end is clipped.
    /// - Throws: ``ObjectStoreError`` with ``ObjectStoreError/Code/notFound`` when there is no such object.
    func get(_ key: String, range: Range<Int64>?) async throws -> ObjectDownload

    /// Reads a whole object as fast as the store allows (in parallel ranges for S3), in order, with memory
    /// bounded by the store's transfer settings.
    func download(_ key: String) async throws -> ObjectDownload

    /// Describes an object, or returns `nil` when there is none.
    func head(_ key: String) async throws -> ObjectInfo?

    /// Lists one page of the objects whose keys start with `prefix`, in the byte order of their keys.
    /// - Parameters:
    ///   - prefix: The start of the keys to list.
    ///   - delimiter: When set (usually `/`), keys containing it after the prefix are rolled up into
    ///     ``ObjectListing/commonPrefixes``, like folders.
    ///   - continuation: The ``ObjectListing/continuation`` of the previous page.
    ///   - maxKeys: At most this many entries (objects and common prefixes) in the page.
    func list(prefix: String, delimiter: String?, continuation: String?, maxKeys: Int) async throws -> ObjectListing

    /// Deletes objects; keys that do not exist are not an error.
    /// - Throws: ``ObjectStoreError`` naming the keys that could not be deleted.
    func delete(_ keys: [String]) async throws

    /// Releases what the store holds (connections); the store is not used afterwards.
    func shutdown() async throws
}

extension ObjectStore {
    package func shutdown() async throws {}

    package func download(_ key: String) async throws -> ObjectDownload {
        try await get(key, range: nil)
    }

    package func put<Body: AsyncSequence & Sendable>(
        _ key: String, body: Body
    ) async throws -> ObjectInfo where Body.Element == ByteBuffer {
        try await put(key, body: body, options: PutOptions())
    }
}
