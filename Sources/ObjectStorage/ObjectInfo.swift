package import struct Foundation.Date

/// What a store knows about an object.
package struct ObjectInfo: Sendable, Equatable {
    /// The key, relative to the store's root.
    package var key: String
    /// The size in bytes.
    package var size: Int64
    /// An opaque version tag: the same tag means the same content. For S3 it is the object's ETag.
    package var etag: String?
    package var lastModified: Date?

    package init(key: String, size: Int64, etag: String? = nil, lastModified: Date? = nil) {
        self.key = key
        self.size = size
        self.etag = etag
        self.lastModified = lastModified
    }
}
