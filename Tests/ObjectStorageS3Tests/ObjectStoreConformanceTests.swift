import DynokeeperTestSupport
import Foundation
import NIOCore
import ObjectStorage
import ObjectStorageS3
import Testing

/// One behavioural suite that the local directory store and the S3 store (on SeaweedFS) both pass.
@Suite(.tags(.integration)) struct ObjectStoreConformanceTests {
    static func withStore(
        _ kind: StoreKind, partSize: Int = 5 << 20, _ body: (any ObjectStore, StoreFixture) async throws -> Void
    ) async throws {
        try await withResource(StoreFixture.make(kind, partSize: partSize)) { fixture in
            try await body(fixture.store, fixture)
        }
    }

    static func bytes(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    @Test(arguments: StoreKind.allCases)
    func smallObjectRoundTrip(kind: StoreKind) async throws {
        try await Self.withStore(kind) { store, _ in
            var payload = ByteBuffer()
            for index in 0..<1024 { payload.writeInteger(UInt8(truncatingIfNeeded: index * 7)) }
            let stored = try await store.put("node/a/snapshot.rdb", bytes: payload)
            #expect(stored.size == 1024)
            #expect(stored.key == "node/a/snapshot.rdb")

            let info = try #require(try await store.head("node/a/snapshot.rdb"))
            #expect(info.size == 1024)
            #expect(info.etag != nil)
            #expect(info.etag == stored.etag)

            let back = try await store.getBytes("node/a/snapshot.rdb")
            #expect(back == payload)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func emptyObjectRoundTrip(kind: StoreKind) async throws {
        try await Self.withStore(kind) { store, _ in
            try await store.put("empty", bytes: ByteBuffer())
            #expect(try await store.head("empty")?.size == 0)
            #expect(try await store.getBytes("empty").readableBytes == 0)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func putReplacesTheObject(kind: StoreKind) async throws {
        try await Self.withStore(kind) { store, _ in
            try await store.put("k", bytes: Self.bytes("first version"))
            try await store.put("k", bytes: Self.bytes("second"))
            #expect(String(buffer: try await store.getBytes("k")) == "second")
            #expect(try await store.head("k")?.size == 6)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func missingObjects(kind: StoreKind) async throws {
        try await Self.withStore(kind) { store, _ in
            let head = try await store.head("no/such/key")
            #expect(head == nil)
            let error = await #expect(throws: ObjectStoreError.self) {
                _ = try await store.get("no/such/key", range: nil)
            }
            #expect(error?.code == .notFound)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func invalidKeysAreRefused(kind: StoreKind) async throws {
        try await Self.withStore(kind) { store, _ in
            for key in ["", "/abs", "a//b", "a/../b", "..", "a/", "./a", "tab\there"] {
                let error = await #expect(throws: ObjectStoreError.self, "key \(key)") {
                    try await store.put(key, bytes: Self.bytes("x"))
                }
                #expect(error?.code == .invalidKey, "key \(key)")
            }
            let listed = try await store.listAll(prefix: "")
            #expect(listed.isEmpty)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func rangeReads(kind: StoreKind) async throws {
        try await Self.withStore(kind) { store, _ in
            try await store.put("r", bytes: Self.bytes("0123456789"))
            func read(_ range: Range<Int64>) async throws -> String {
                String(buffer: try await store.get("r", range: range).body.collect(upTo: 100))
            }
            #expect(try await read(0..<1) == "0")
            #expect(try await read(3..<7) == "3456")
            #expect(try await read(8..<100) == "89")
            let download = try await store.get("r", range: 2..<5)
            #expect(download.info.size == 10)
            #expect(download.range == 2..<5)
            let error = await #expect(throws: ObjectStoreError.self) { _ = try await read(10..<20) }
            #expect(error?.code == .invalidRequest)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func listingPagesFoldersAndOrder(kind: StoreKind) async throws {
        try await Self.withStore(kind) { store, _ in
            let keys = ["c/x", "a/1", "a/2", "a/sub/3", "b", "a/é", "a/Z", "ab"]
            for key in keys { try await store.put(key, bytes: Self.bytes(key)) }

            let all = try await store.listAll(prefix: "", pageSize: 3).map(\.key)
            #expect(all == keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
            #expect(all == ["a/1", "a/2", "a/Z", "a/sub/3", "a/é", "ab", "b", "c/x"])

            #expect(try await store.listAll(prefix: "a/").map(\.key) == ["a/1", "a/2", "a/Z", "a/sub/3", "a/é"])
            #expect(try await store.listAll(prefix: "a").count == 6)
            #expect(try await store.listAll(prefix: "nothing").isEmpty)

            let top = try await store.list(prefix: "", delimiter: "/", continuation: nil, maxKeys: 100)
            #expect(top.commonPrefixes == ["a/", "c/"])
            #expect(top.objects.map(\.key) == ["ab", "b"])
            #expect(top.continuation == nil)

            let inA = try await store.list(prefix: "a/", delimiter: "/", continuation: nil, maxKeys: 100)
            #expect(inA.commonPrefixes == ["a/sub/"])
            #expect(inA.objects.map(\.key) == ["a/1", "a/2", "a/Z", "a/é"])
            #expect(inA.objects.first?.size == 3)

            // Folders page one entry at a time.
            #expect(try await store.listFolders(prefix: "", pageSize: 1) == ["a/", "c/"])

            var page = try await store.list(prefix: "", delimiter: nil, continuation: nil, maxKeys: 5)
            #expect(page.objects.count == 5)
            let token = try #require(page.continuation)
            page = try await store.list(prefix: "", delimiter: nil, continuation: token, maxKeys: 5)
            #expect(page.objects.map(\.key) == ["ab", "b", "c/x"])
            #expect(page.continuation == nil)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func deleteMany(kind: StoreKind) async throws {
        try await Self.withStore(kind) { store, fixture in
            for key in ["d/1", "d/2", "d/deep/3", "keep"] { try await store.put(key, bytes: Self.bytes(key)) }
            try await store.delete(["d/1", "d/deep/3", "d/never-existed"])
            #expect(try await store.listAll(prefix: "").map(\.key) == ["d/2", "keep"])
            try await store.delete(["d/2"])
            #expect(try await store.listAll(prefix: "").map(\.key) == ["keep"])
            if let root = fixture.localRoot {
                // Emptied folders go too.
                #expect(!FileManager.default.fileExists(atPath: root + "/d"))
            }
        }
    }

    @Test(arguments: StoreKind.allCases)
    func multiPartStreamRoundTripAndParallelDownload(kind: StoreKind) async throws {
        try await Self.withStore(kind) { store, _ in
            let body = RandomBytes(total: 12 << 20 | 12345, chunkSize: 100_000)
            let stored = try await store.put("big/object", body: body)
            #expect(stored.size == 12 << 20 | 12345)
            let expected = try #require(body.digest.hex)

            let whole = try await store.download("big/object")
            #expect(whole.info.size == stored.size)
            let (size, digest) = try await whole.body.sizeAndSHA256()
            #expect(size == stored.size)
            #expect(digest == expected)

            let (partSize, partDigest) = try await store.get("big/object", range: 0..<(12 << 20 | 12345)).body
                .sizeAndSHA256()
            #expect(partSize == stored.size)
            #expect(partDigest == expected)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func failingStreamLeavesNothing(kind: StoreKind) async throws {
        try await Self.withStore(kind) { store, fixture in
            try await store.put("victim", bytes: Self.bytes("old content"))
            // Fails after two parts' worth: for S3 a multipart upload was under way.
            let body = RandomBytes(total: 20 << 20, chunkSize: 1 << 20, failAfter: 11 << 20)
            await #expect(throws: (any Error).self) { _ = try await store.put("victim", body: body) }
            await #expect(throws: (any Error).self) { _ = try await store.put("fresh", body: body) }
            #expect(String(buffer: try await store.getBytes("victim")) == "old content")
            #expect(try await store.head("fresh") == nil)
            #expect(try await store.listAll(prefix: "").map(\.key) == ["victim"])
            if let root = fixture.localRoot {
                let leftovers = try FileManager.default.contentsOfDirectory(atPath: root)
                #expect(leftovers == ["victim"], "temporary files left: \(leftovers)")
            }
        }
    }
}
