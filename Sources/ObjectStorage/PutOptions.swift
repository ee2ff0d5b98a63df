/// Settings for storing an object.
public struct PutOptions: Sendable {
    /// The object's media type.
    public var contentType: String
    /// The expected size, when known: large objects may then be cut in larger parts.
    public var sizeHint: Int64?

    /// - Parameters:
    ///   - contentType: The object's media type.
    ///   - sizeHint: The expected size, when known.
    public init(contentType: String = "application/octet-stream", sizeHint: Int64? = nil) {
        self.contentType = contentType
        self.sizeHint = sizeHint
    }
}
