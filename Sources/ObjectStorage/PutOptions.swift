/// Settings for storing an object.
public struct PutOptions: Sendable {
    /// The object's media type.
    public var contentType: String

    /// - Parameter contentType: The object's media type.
    public init(contentType: String = "application/octet-stream") {
        self.contentType = contentType
    }
}
