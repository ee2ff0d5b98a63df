/// An object being read: its description and a stream of its bytes (of the requested range).
public struct ObjectDownload: Sendable {
    /// The whole object's description (its size is the whole object's, not the range's).
    public var info: ObjectInfo
    /// The bytes being read.
    public var range: Range<Int64>
    public var body: ByteStream

    public init(info: ObjectInfo, range: Range<Int64>, body: ByteStream) {
        self.info = info
        self.range = range
        self.body = body
    }
}
