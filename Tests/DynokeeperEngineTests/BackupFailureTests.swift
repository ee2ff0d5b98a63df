import Crypto
import DynokeeperConfiguration
import DynokeeperEngine
import DynokeeperTestSupport
import Foundation
import NIOCore
import ObjectStorage
import ObjectStorageS3
import RedisClient
import Testing

/// Backups that cannot succeed: a clear error, and nothing in the store that looks complete.
@Suite(.tags(.integration)) struct BackupFailureTests {
    @Test func unreachableRedis() async throws {
        try await withResource(TestStore.make(.local)) { store in
            let port = try FreePort.next()
            let error = await #expect(throws: RedisError.self) {
                _ = try await Engine.backup(.test(port: port), store: store.store).run(.init(type: .rdb))
            }
            #expect(error?.description.hasPrefix("cannot connect to Redis at 127.0.0.1:\(port)") == true)
            #expect(try await store.store.listAll(prefix: "").isEmpty)
        }
    }

    @Test func wrongPassword() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        try await withResource(RedisServer.start(password: "right-password")) { server in
            try await withResource(TestStore.make(.local)) { store in
                try "wrong-password\n".write(toFile: folder.file("password"), atomically: false, encoding: .utf8)
                let error = await #expect(throws: RedisError.self) {
                    _ = try await Engine.backup(
                        .test(port: server.port), store: store.store, passwordFile: folder.file("password")
                    )
                    .run(.init(type: .rdb))
                }
                #expect(error?.description.contains("WRONGPASS") == true)
                #expect(error?.description.contains("check redis.password_file") == true)
                #expect(try await store.store.listAll(prefix: "").isEmpty)

                try "right-password\n".write(toFile: folder.file("password"), atomically: false, encoding: .utf8)
                let report = try await Engine.backup(
                    .test(port: server.port), store: store.store, passwordFile: folder.file("password")
                )
                .run(.init(type: .rdb))
                #expect(report.manifest.files.count == 1)
            }
        }
    }

    @Test func bgsaveFailing() async throws {
        try await withResource(RedisServer.start()) { server in
            try await withResource(TestStore.make(.local)) { store in
                try await RedisDataset.populateAllTypes(server)
                // Redis cannot write its temporary RDB file into a folder that is gone (root ignores permissions).
                try FileManager.default.removeItem(atPath: server.directory.path)
                let error = await expectFailure(.snapshot) {
                    _ = try await Engine.backup(.test(port: server.port), store: store.store).run(.init(type: .rdb))
                }
                #expect(error?.description.hasPrefix("BGSAVE failed (rdb_last_bgsave_status:err)") == true)
                #expect(try await store.store.listAll(prefix: "").isEmpty)
            }
        }
    }

    @Test func storageFailingMidUploadLeavesNoManifestAndNoParts() async throws {
        try await withResource(RedisServer.start()) { server in
            try await RedisDataset.populateRandom(server, count: 12_000, size: 1024)  // ~12 MiB of hex, ~6 MiB zstd

            // An S3 that accepts the upload's start and first part, then fails every request but aborts.
            let parts = CallCounter()
            let fake = try await FakeHTTPServer.start { request in
                switch request.method {
                case "HEAD": return .init(status: 404)
                case "GET": return .init(body: "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>")
                case "POST" where request.query.hasPrefix("uploads"):
                    return .init(
                        body: "<InitiateMultipartUploadResult><UploadId>U</UploadId></InitiateMultipartUploadResult>")
                case "PUT" where request.query.contains("partNumber=") && parts.next() == 1:
                    let md5 = Insecure.MD5.hash(data: request.body).map { String(format: "%02x", $0) }.joined()
                    return .init(headers: [("ETag", "\"\(md5)\"")])
                case "DELETE":
                    return .init(status: 204)
                default:
                    return .init(
                        status: 503, body: "<Error><Code>ServiceUnavailable</Code><Message>down</Message></Error>")
                }
            }
            try await withResource(fake) { fake in
                let store = try S3Store(
                    configuration: S3StoreConfiguration(
                        location: S3Location(bucket: "fake-bucket"), endpoint: fake.url, partSize: 5 << 20,
                        concurrency: 1,
                        retry: RetryPolicy(maxAttempts: 2, baseDelay: .milliseconds(5))),
                    credentials: StaticCredentialProvider(.init(accessKeyID: "a", secretAccessKey: "b")))
                try await withResource(store) { store in
                    let error = await #expect(throws: ObjectStoreError.self) {
                        _ = try await Engine.backup(.test(port: server.port), store: store).run(.init(type: .rdb))
                    }
                    #expect(error?.code == .unavailable)
                    #expect(error?.description.contains("upload of part 2") == true)
                    let requests = fake.requests
                    #expect(!requests.contains { $0.path.hasSuffix("/manifest.json") && $0.method == "PUT" })
                    #expect(requests.contains { $0.method == "DELETE" && $0.query == "uploadId=U" })
                }
            }
        }
    }

    @Test func anExistingSnapshotIdIsRefusedAndLeftoversOfAnIncompleteOneReplaced() async throws {
        try await withResource(RedisServer.start()) { server in
            try await withResource(TestStore.make(.local)) { store in
                let id = SnapshotID(date: Date(timeIntervalSince1970: 1_795_000_000))
                let node = NodeSettings.test(port: server.port)
                let prefix = SnapshotLayout.snapshotPrefix(node.identity, id)
                // What a crashed backup leaves: a data object, no manifest.
                try await store.store.put(prefix + "dump.rdb.zst", bytes: ByteBuffer(string: "partial"))
                try await store.store.put(prefix + "stray.bin", bytes: ByteBuffer(string: "stray"))

                var options = NodeBackup.Options(type: .rdb)
                options.snapshotID = id
                let report = try await Engine.backup(node, store: store.store).run(options)
                #expect(report.manifest.snapshotID == id)
                #expect(
                    try await store.store.listAll(prefix: prefix).map(\.key).sorted() == [
                        prefix + "dump.rdb.zst", prefix + "manifest.json",
                    ])

                let error = await expectFailure(.snapshot) {
                    _ = try await Engine.backup(node, store: store.store).run(options)
                }
                #expect(error?.description.contains("already exists") == true)
            }
        }
    }
}
