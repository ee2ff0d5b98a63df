import DynokeeperConfiguration
import DynokeeperEngine
import DynokeeperTestSupport
import Foundation
import Logging
import NIOCore
import ObjectStorage
import ObjectStorageS3
import RedisClient
import Testing

/// Expects `body` to fail with a ``DynokeeperError`` of `code`, and returns it for the message's checks.
func expectFailure(
    _ code: DynokeeperError.Code, sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> Void
) async -> DynokeeperError? {
    let error = await #expect(throws: DynokeeperError.self, sourceLocation: sourceLocation) { try await body() }
    #expect(error?.code == code, "\(String(describing: error))", sourceLocation: sourceLocation)
    return error
}

/// The two stores backups go to.
enum StoreKind: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case local, s3
    var testDescription: String { rawValue }
}

/// A fresh store: a temporary folder, or a unique prefix in a bucket of the shared SeaweedFS.
struct TestStore: TestResource {
    let store: any ObjectStore
    let folder: TemporaryDirectory?

    static func make(_ kind: StoreKind, partSize: Int = 5 << 20) async throws -> TestStore {
        switch kind {
        case .local:
            let folder = try TemporaryDirectory(prefix: "store")
            return TestStore(store: LocalDirectoryStore(root: folder.path), folder: folder)
        case .s3:
            return TestStore(store: try await SeaweedFS.shared().makeStore(partSize: partSize), folder: nil)
        }
    }

    func close() async {
        try? await store.shutdown()
        folder?.remove()
    }
}

/// A store whose uploads go through a function of the key, the body, the options and the real store.
struct UploadRewritingStore: ObjectStore {
    let inner: any ObjectStore
    let upload: @Sendable (String, ByteStream, PutOptions, any ObjectStore) async throws -> ObjectInfo

    var location: String { inner.location }

    func put<Body: AsyncSequence & Sendable>(
        _ key: String, body: Body, options: PutOptions
    ) async throws -> ObjectInfo where Body.Element == ByteBuffer {
        try await upload(key, ByteStream(body), options, inner)
    }
    func get(_ key: String, range: Range<Int64>?) async throws -> ObjectDownload {
        try await inner.get(key, range: range)
    }
    func head(_ key: String) async throws -> ObjectInfo? { try await inner.head(key) }
    func list(prefix: String, delimiter: String?, continuation: String?, maxKeys: Int) async throws -> ObjectListing {
        try await inner.list(prefix: prefix, delimiter: delimiter, continuation: continuation, maxKeys: maxKeys)
    }
    func delete(_ keys: [String]) async throws { try await inner.delete(keys) }
}

extension NodeSettings {
    /// A node with a given identity whose Redis is a test server.
    static func test(
        port: Int, cluster: String = "test-cluster", datacenter: String = "dc1", rack: String = "rack1",
        tokens: String = "0"
    ) -> NodeSettings {
        NodeSettings(
            identity: NodeIdentity(cluster: cluster, datacenter: datacenter, rack: rack, tokens: tokens),
            redisHost: "127.0.0.1", redisPort: port, dynomite: nil)
    }
}

enum Engine {
    static let logger = Logger(label: "test")

    static func redisSettings(user: String? = nil, passwordFile: String? = nil) -> DynokeeperConfiguration.Redis {
        DynokeeperConfiguration.Redis(
            host: nil, port: nil, user: user, passwordFile: passwordFile, conf: nil, dataDir: nil)
    }

    static func backup(
        _ node: NodeSettings, store: any ObjectStore, user: String? = nil, passwordFile: String? = nil
    ) -> NodeBackup {
        NodeBackup(
            node: node,
            connector: RedisConnector(
                node: node, redis: redisSettings(user: user, passwordFile: passwordFile), logger: logger),
            store: store, dataDirectory: nil, logger: logger)
    }

    /// A backup that connects to `source` as the ACL user `backup`, allowed only `permissions` (its password file in
    /// `folder`).
    static func backup(
        asUserWith permissions: [String], of source: RedisServer, store: any ObjectStore, folder: TemporaryDirectory
    ) async throws -> NodeBackup {
        _ = try await source.cli(["ACL", "SETUSER", "backup", "on", ">backup-secret", "-@all"] + permissions)
        try "backup-secret\n".write(toFile: folder.file("password"), atomically: true, encoding: .utf8)
        return backup(.test(port: source.port), store: store, user: "backup", passwordFile: folder.file("password"))
    }
}
