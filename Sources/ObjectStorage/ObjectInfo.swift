public import struct Foundation.Date

/// What a store knows about an object.
public struct ObjectInfo: Sendable, Equatable {
    /// The key, relative to the store's root.
    public var key: String
    /// The size in bytes.
    public var size: Int64
    /// An opaque version tag: the same tag means the same content. For S3 it is the object's ETag.
    public var etag: String?
    public var lastModified: Date?

    public init(key: String, size: Int64, etag: String? = nil, lastModified: Date? = nil) {
        self.key = key
        self.size = size
        self.etag = etag
        self.lastModified = lastModified
    }
}
