import DynokeeperTestSupport
import Foundation
import NIOCore
import ObjectStorage
import ObjectStorageS3
import Testing

/// The S3 client through a proxy that injects what S3 and networks really do: SlowDown, connections reset before
/// the response, bodies cut off both ways, and a store that only answers errors.
@Suite(.tags(.integration)) struct FaultToleranceTests {
    /// The policy dynokeeper uses by default, with a shorter deadline for the dead-store test.
    static func store(
        through proxy: FaultProxy, partSize: Int = 5 << 20, retry: RetryPolicy = RetryPolicy()
    ) async throws -> S3Store {
        try await SeaweedFS.shared().makeStore(
            partSize: partSize, concurrency: 4, through: proxy.endpoint, retry: retry)
    }

    @Test func objectsGoUpAndComeDownByteExactThroughEveryFaultAtOnce() async throws {
        let server = try await SeaweedFS.shared()
        // The usual mix, with every other GET cut: this object takes only a few GETs.
        var faults = FaultProxy.Faults.mixed
        faults.cutGetEvery = 2
        try await withResource(FaultProxy.start(upstream: server.endpoint, faults: faults)) { proxy in
            try await withResource(Self.store(through: proxy)) { store in
                // 24 MiB here (the command-line test moves 55 MB through the same faults): five parts, two ranges.
                let data = RandomBytes(total: 24 << 20)
                let stored = try await store.put("big", body: data)
                #expect(stored.size == 24 << 20)
                let expected = try #require(data.digest.hex)
                let downloaded = try await store.download("big").body.sizeAndSHA256()
                #expect(downloaded.size == 24 << 20)
                #expect(downloaded.sha256 == expected)
                // A plain GET of the whole object, resumed where its body breaks off.
                let whole = try await store.get("big", range: nil).body.sizeAndSHA256()
                #expect(whole.sha256 == expected)
                // Every kind of fault happened on the way.
                let injected = proxy.injected()
                for kind in ["slowdown", "reset", "cut_get", "cut_put"] {
                    #expect((injected[kind] ?? 0) > 0, "\(kind): \(injected)")
                }
            }
        }
    }

    /// Every GET body is cut at half: a small object (one request, no ranges) still arrives whole, each retry
    /// asking only for what is missing.
    @Test func aSmallObjectWhoseEveryBodyIsCutIsResumed() async throws {
        let server = try await SeaweedFS.shared()
        try await withResource(FaultProxy.start(upstream: server.endpoint, faults: .init(cutGetEvery: 1))) { proxy in
            try await withResource(Self.store(through: proxy)) { store in
                let content = String(repeating: "manifest line\n", count: 60)
                _ = try await store.put("manifest.json", bytes: ByteBuffer(string: content))
                #expect(String(buffer: try await store.getBytes("manifest.json")) == content)
                #expect(
                    String(buffer: try await store.download("manifest.json").body.collect(upTo: 1 << 20)) == content)
                #expect(
                    (proxy.injected()["cut_get"] ?? 0) >= 8,
                    "each GET was cut, about log2(840) times per read: \(proxy.injected())")
            }
        }
    }

    @Test(arguments: [5, 17, 64])
    func everyPartSizeWorksBothWays(partSizeMiB: Int) async throws {
        try await withResource(SeaweedFS.shared().makeStore(partSize: partSizeMiB << 20, concurrency: 2)) { store in
            let size = Int64(partSizeMiB + 3) << 20
            let data = RandomBytes(total: size)
            _ = try await store.put("object", body: data)
            let downloaded = try await store.download("object").body.sizeAndSHA256()
            #expect(downloaded.size == size)
            #expect(downloaded.sha256 == data.digest.hex)
        }
    }

    @Test func aDeadStoreFailsWithinTheBoundNamingTheLastError() async throws {
        let server = try await SeaweedFS.shared()
        try await withResource(FaultProxy.start(upstream: server.endpoint, faults: .init(dead: true))) { proxy in
            try await withResource(Self.store(through: proxy, retry: RetryPolicy(giveUpAfter: .seconds(3)))) { store in
                let start = ContinuousClock.now
                let error = await #expect(throws: ObjectStoreError.self) {
                    _ = try await store.put("k", bytes: ByteBuffer(string: "x"))
                }
                #expect(ContinuousClock.now - start < .seconds(30))
                #expect(error?.description.contains("InternalError") == true, "\(String(describing: error))")
                #expect(error?.description.contains("gave up after") == true)
            }
        }
    }
}
