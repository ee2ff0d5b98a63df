import ObjectStorage
import Testing

@Suite struct ObjectKeyTests {
    @Test(arguments: [
        "a", "a/b/c.rdb", "prod/dc1/rack1/0/20261124T020000Z/manifest.json", "é/漢字", "a b+c=d", "..a/b..", ".hidden",
    ])
    func acceptsOrdinaryKeys(key: String) throws {
        try ObjectKey.validate(key)
    }

    @Test(arguments: ["", "/a", "a/", "a//b", ".", "..", "a/./b", "a/../../etc/passwd", "x\u{0}y", "line\nbreak"])
    func refusesKeysThatCouldEscapeOrMislead(key: String) {
        let error = #expect(throws: ObjectStoreError.self) { try ObjectKey.validate(key) }
        #expect(error?.code == .invalidKey)
        #expect(error?.message.hasPrefix("invalid object key") == true)
    }

    @Test func refusesKeysLongerThanS3Allows() {
        #expect(throws: ObjectStoreError.self) { try ObjectKey.validate(String(repeating: "k", count: 1025)) }
        #expect(throws: Never.self) { try ObjectKey.validate(String(repeating: "k", count: 1024)) }
    }

    @Test func ordersByUTF8BytesLikeS3() {
        #expect(ObjectKey.precedes("Z", "a"))
        #expect(ObjectKey.precedes("a/Z", "a/é"))
        #expect(ObjectKey.precedes("a/sub/3", "a/é"))
        #expect(!ObjectKey.precedes("b", "ab"))
    }
}
