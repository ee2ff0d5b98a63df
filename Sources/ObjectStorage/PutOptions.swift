/// Settings for storing an object.
package struct PutOptions: Sendable {
    /// The object's media type.
    package var contentType: String
    /// The expected size, when known: large objects may then be cut in larger parts.
    package var sizeHint: Int64?

    /// - Parameters:
    ///   - contentType: The object's media type.
    ///   - sizeHint: The expected size, when known.
    package init(contentType: String = "application/octet-stream", sizeHint: Int64? = nil) {
        self.contentType = contentType
        self.sizeHint = sizeHint
    }
}
