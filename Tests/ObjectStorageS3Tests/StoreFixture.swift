import DynokeeperTestSupport
import Foundation
import ObjectStorage
import ObjectStorageS3
import Testing

/// The two stores that must behave alike.
enum StoreKind: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case local
    case s3

    var testDescription: String { rawValue }
}

/// A fresh, empty store of a kind: a temporary folder, or a unique prefix in a bucket of the shared
/// SeaweedFS server.
struct StoreFixture: TestResource {
    let store: any ObjectStore
    let cleanup: @Sendable () async -> Void

    static func make(_ kind: StoreKind, partSize: Int = 5 << 20, concurrency: Int = 4) async throws -> StoreFixture {
        switch kind {
        case .local:
            let folder = try TemporaryDirectory(prefix: "local-store")
            let store = LocalDirectoryStore(root: folder.path + "/store")
            return StoreFixture(store: store) { folder.remove() }
        case .s3:
            let store = try await makeS3Store(partSize: partSize, concurrency: concurrency)
            return StoreFixture(store: store) { try? await store.shutdown() }
        }
    }

    static func makeS3Store(
        partSize: Int = 5 << 20, concurrency: Int = 4, secret: String? = nil, prefix: String? = nil
    ) async throws -> S3Store {
        try await SeaweedFS.shared().makeStore(
            prefix: prefix, partSize: partSize, concurrency: concurrency, secret: secret)
    }

    func close() async { await cleanup() }

    /// The local store's root folder, to look for leftovers.
    var localRoot: String? { (store as? LocalDirectoryStore)?.root }
}
