import DynokeeperConfiguration
import DynokeeperEngine
import DynokeeperTestSupport
import Foundation
import NIOCore
import ObjectStorage
import Testing

/// Backups that take the RDB from Redis's replication link (`backup.method: stream`, or `auto`), as Redis's fork
/// writes it: a plain dump.rdb.zst that redis-server loads, with exact key counts, and BGSAVE when Redis will not.
@Suite(.tags(.integration)) struct StreamedBackupTests {
    static func options(_ method: DynokeeperConfiguration.Backup.Method) -> NodeBackup.Options {
        var options = NodeBackup.Options(type: .rdb)
        options.method = method
        return options
    }

    @Test func aStreamedBackupLoadsInAFreshRedisWithEveryKeyEqual() async throws {
        let restored = try TemporaryDirectory(prefix: "streamed")
        defer { restored.remove() }
        try await withResource(RedisServer.start(arguments: ["--repl-diskless-sync-delay", "0"])) { source in
            try await withResource(TestStore.make(.local)) { store in
                let counts = try await RedisDataset.populateAllTypes(source)
                // About 6 MiB: more than one part, several chunks of the link.
                try await RedisDataset.populateRandom(source, count: 6000, size: 1024)
                let report = try await Engine.backup(.test(port: source.port), store: store.store).run(
                    Self.options(.stream))
                let manifest = report.manifest
                #expect(manifest.method == .stream)
                #expect(manifest.keyspaceExact)
                #expect(manifest.keyspace["db0"]?.keys == counts[0]! + 6000)
                #expect(manifest.keyspace["db0"]?.expires == 40)
                #expect(manifest.keyspace["db3"]?.keys == counts[3]!)
                #expect(manifest.files.map(\.object) == ["dump.rdb.zst"])

                let prefix = SnapshotLayout.snapshotPrefix(manifest.node, manifest.snapshotID)
                let decompressed = try await NodeBackupTests.decompressWithZstdCommand(
                    store.store, key: prefix + "dump.rdb.zst", into: restored, name: "dump.rdb")
                #expect(NodeBackupTests.sha256(decompressed) == manifest.files[0].sha256)
                #expect(
                    manifest.rdbVersion != nil
                        && manifest.rdbVersion == RDBVersion.parse(header: decompressed.prefix(9)))
                #expect(Int64(decompressed.count) == manifest.files[0].size)
                // No BGSAVE ran: Redis wrote no dump.rdb of its own.
                #expect(!FileManager.default.fileExists(atPath: source.directory.file("dump.rdb")))
                try await withResource(RedisServer.start(directory: restored), cleanUp: { await $0.stop() }) { copy in
                    let original = try await RedisContent.read(port: source.port)
                    let loaded = try await RedisContent.read(port: copy.port)
                    #expect(loaded == original, "\(loaded.differences(from: original).prefix(10))")
                }
            }
        }
    }

    /// A user without SYNC (the README's least-privilege ACL): `auto` takes the RDB with BGSAVE, `stream` says why
    /// it cannot and leaves nothing in the store.
    @Test func withoutSyncAutoFallsBackToBGSAVEAndStreamFails() async throws {
        let folder = try TemporaryDirectory(prefix: "streamed-acl")
        defer { folder.remove() }
        // No delay: `auto` would stream, were SYNC allowed.
        try await withResource(RedisServer.start(arguments: ["--repl-diskless-sync-delay", "0"])) { source in
            try await withResource(TestStore.make(.local)) { store in
                try await RedisDataset.populateAllTypes(source)
                let backup = try await Engine.backup(
                    asUserWith: ["+info", "+config|get", "+bgsave", "+replconf"], of: source, store: store.store,
                    folder: folder)
                let refused = await #expect(throws: (any Error).self) {
                    _ = try await backup.run(Self.options(.stream))
                }
                #expect("\(refused.map { "\($0)" } ?? "")".contains("SYNC"))
                #expect(try await store.store.listAll(prefix: "").isEmpty)
                let report = try await backup.run(Self.options(.auto))
                #expect(report.manifest.method == .file)
                #expect(report.manifest.keyspaceExact)
            }
        }
    }

    /// `auto` streams when Redis starts the transfer at once, and takes BGSAVE when Redis would first wait
    /// `repl-diskless-sync-delay` for more replicas, longer than a BGSAVE of small data takes.
    @Test func autoStreamsWhenRedisStartsAtOnceAndSavesWhenItWouldWait() async throws {
        try await withResource(RedisServer.start()) { source in
            try await withResource(TestStore.make(.local)) { store in
                try await RedisDataset.populateAllTypes(source)
                let backup = Engine.backup(.test(port: source.port), store: store.store)
                // Redis's default: 5 s of delay.
                #expect(try await backup.run(Self.options(.auto)).manifest.method == .file)
                _ = try await source.cli(["CONFIG", "SET", "repl-diskless-sync-max-replicas", "1"])
                #expect(try await backup.run(Self.options(.auto)).manifest.method == .stream)
                _ = try await source.cli(["CONFIG", "SET", "repl-diskless-sync-max-replicas", "0"])
                _ = try await source.cli(["CONFIG", "SET", "repl-diskless-sync-delay", "0"])
                #expect(try await backup.run(Self.options(.auto)).manifest.method == .stream)
                _ = try await source.cli(["CONFIG", "SET", "repl-diskless-sync", "no"])
                #expect(try await backup.run(Self.options(.auto)).manifest.method == .file)
            }
        }
    }

    /// A store whose uploads break after the first megabyte, as a full disk or a dead S3 would.
    static func breaking(_ inner: any ObjectStore) -> UploadRewritingStore {
        UploadRewritingStore(inner: inner) { key, body, options, inner in
            var read = 0
            for try await chunk in body {
                read += chunk.readableBytes
                if read > 1 << 20 { throw Broken() }
            }
            return try await inner.put(key, body: ByteStream(buffers: []), options: options)
        }
    }
    struct Broken: Error, CustomStringConvertible { var description: String { "the store broke off" } }

    /// An upload that fails while Redis streams stops the link at once (rather than leave it waiting for room in a
    /// pipe nobody reads) and fails the backup with the store's own error; no manifest is written.
    /// The limit catches a hang; it is generous because every suite runs at once on two cores in `make test`.
    @Test(.timeLimit(.minutes(5))) func anUploadThatFailsStopsTheLinkAndSaysWhy() async throws {
        try await withResource(RedisServer.start(arguments: ["--repl-diskless-sync-delay", "0"])) { source in
            try await withResource(TestStore.make(.local)) { store in
                // About 24 MiB: far more than the pipe holds.
                try await RedisDataset.populateRandom(source, count: 24000, size: 1024)
                let backup = Engine.backup(.test(port: source.port), store: Self.breaking(store.store))
                let error = await #expect(throws: Broken.self) {
                    _ = try await backup.run(Self.options(.stream))
                }
                #expect(error != nil)
                #expect(try await store.store.listAll(prefix: "").isEmpty)
            }
        }
    }
}
