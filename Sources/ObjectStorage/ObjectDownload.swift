/// An object being read: its description and a stream of its bytes (of the requested range).
package struct ObjectDownload: Sendable {
    /// The whole object's description (its size is the whole object's, not the range's).
    package var info: ObjectInfo
    /// The bytes being read.
    package var range: Range<Int64>
    package var body: ByteStream

    package init(info: ObjectInfo, range: Range<Int64>, body: ByteStream) {
        self.info = info
        self.range = range
        self.body = body
    }
}
