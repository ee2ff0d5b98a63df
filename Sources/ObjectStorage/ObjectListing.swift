/// One page of a listing.
package struct ObjectListing: Sendable {
    /// The objects, in the byte order of their keys.
    package var objects: [ObjectInfo]
    /// With a delimiter, the "folders" under the prefix, each ending with the delimiter.
    package var commonPrefixes: [String]
    /// Pass it back to get the next page; `nil` on the last page.
    package var continuation: String?

    package init(objects: [ObjectInfo], commonPrefixes: [String] = [], continuation: String? = nil) {
        self.objects = objects
        self.commonPrefixes = commonPrefixes
        self.continuation = continuation
    }
}
