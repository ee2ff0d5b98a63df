/// One page of a listing.
public struct ObjectListing: Sendable {
    /// The objects, in the byte order of their keys.
    public var objects: [ObjectInfo]
    /// With a delimiter, the "folders" under the prefix, each ending with the delimiter.
    public var commonPrefixes: [String]
    /// Pass it back to get the next page; `nil` on the last page.
    public var continuation: String?

    public init(objects: [ObjectInfo], commonPrefixes: [String] = [], continuation: String? = nil) {
        self.objects = objects
        self.commonPrefixes = commonPrefixes
        self.continuation = continuation
    }
}
