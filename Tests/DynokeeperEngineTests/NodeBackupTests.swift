import Crypto
import DynokeeperConfiguration
import DynokeeperEngine
import DynokeeperTestSupport
import Foundation
import NIOCore
import ObjectStorage
import RedisClient
import Testing

/// Backups of a real redis-server into both stores, checked with the zstd command and by loading them
/// into a fresh redis-server.
@Suite(.tags(.integration)) struct NodeBackupTests {
    /// Fetches a stored object, decompresses it with the zstd command, and returns the bytes.
    static func decompressWithZstdCommand(
        _ store: any ObjectStore, key: String, into folder: TemporaryDirectory, name: String
    ) async throws -> Data {
        let bytes = try await store.getBytes(key, limit: 1 << 30)
        let compressed = folder.file(name + ".zst")
        let plain = folder.file(name)
        try FileManager.default.createDirectory(
            atPath: (plain as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(bytes.readableBytesView).write(to: URL(fileURLWithPath: compressed))
        try await ProcessRunner.check("zstd", ["-q", "-d", "-f", compressed, "-o", plain])
        try FileManager.default.removeItem(atPath: compressed)
        return try Data(contentsOf: URL(fileURLWithPath: plain))
    }

    static func sha256(_ data: Data) -> String { SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined() }

    @Test(arguments: StoreKind.allCases)
    func rdbBackupLoadsInAFreshRedisWithEveryKeyEqual(kind: StoreKind) async throws {
        let restored = try TemporaryDirectory(prefix: "restored")
        defer { restored.remove() }
        try await withResource(RedisServer.start()) { source in
            try await withResource(TestStore.make(kind)) { store in
                let counts = try await RedisDataset.populateAllTypes(source)
                // About 6 MiB: more than one part.
                try await RedisDataset.populateRandom(source, count: 6000, size: 1024)

                let report = try await Engine.backup(.test(port: source.port), store: store.store).run(
                    .init(type: .rdb))
                let manifest = report.manifest
                #expect(manifest.type == .rdb)
                #expect(
                    manifest.node
                        == NodeIdentity(cluster: "test-cluster", datacenter: "dc1", rack: "rack1", tokens: "0"))
                #expect(manifest.redis.version.hasPrefix("7."))
                #expect(manifest.keyspace["db0"]?.keys == counts[0]! + 6000)
                #expect(manifest.keyspace["db0"]?.expires == 40)
                #expect(manifest.keyspace["db3"]?.keys == counts[3]!)
                #expect(manifest.keyspaceExact)
                #expect(manifest.files.map(\.name) == ["dump.rdb"])
                #expect(manifest.files[0].object == "dump.rdb.zst")
                #expect(manifest.finishedAt >= manifest.startedAt)

                // The stored object, decompressed by the zstd command, is exactly the RDB Redis wrote.
                let prefix = SnapshotLayout.snapshotPrefix(manifest.node, manifest.snapshotID)
                #expect(prefix == "test-cluster/dc1/rack1/0/\(manifest.snapshotID)/")
                let written = try Data(contentsOf: URL(fileURLWithPath: source.directory.file("dump.rdb")))
                let decompressed = try await Self.decompressWithZstdCommand(
                    store.store, key: prefix + "dump.rdb.zst", into: restored, name: "dump.rdb")
                #expect(decompressed == written)
                #expect(Self.sha256(decompressed) == manifest.files[0].sha256)
                #expect(Int64(decompressed.count) == manifest.files[0].size)
                #expect(try await store.store.head(prefix + "dump.rdb.zst")?.size == manifest.files[0].storedSize)

                // A fresh redis-server loads it with every key equal.
                // Stopped only: its folder is the test's.
                try await withResource(RedisServer.start(directory: restored), cleanUp: { await $0.stop() }) { copy in
                    let original = try await RedisContent.read(port: source.port)
                    let loaded = try await RedisContent.read(port: copy.port)
                    #expect(loaded.keyCount == manifest.keyCount)
                    #expect(loaded == original, "\(loaded.differences(from: original).prefix(10))")
                }
            }
        }
    }

    @Test(arguments: StoreKind.allCases)
    func aofBackupOfMultiPartAOFLoadsInAFreshRedis(kind: StoreKind) async throws {
        let restored = try TemporaryDirectory(prefix: "restored-aof")
        defer { restored.remove() }
        try await withResource(RedisServer.start(arguments: ["--appendonly", "yes"])) { source in
            try await withResource(TestStore.make(kind)) { store in
                try await RedisDataset.populateAllTypes(source)
                let report = try await Engine.backup(.test(port: source.port), store: store.store).run(
                    .init(type: .aof))
                // Writes after the rewrite land in the incremental file, which the snapshot carries too.
                let manifest = report.manifest
                #expect(manifest.type == .aof)
                #expect(manifest.redis.aofDirectory == "appendonlydir")
                #expect(manifest.redis.aofManifest == "appendonly.aof.manifest")
                let names = manifest.files.map(\.name)
                #expect(names.count == 3)
                #expect(names.contains { $0.hasPrefix("appendonlydir/appendonly.aof.") && $0.hasSuffix(".base.rdb") })
                #expect(names.contains { $0.hasSuffix(".incr.aof") })
                #expect(names.last == "appendonlydir/appendonly.aof.manifest")

                let prefix = SnapshotLayout.snapshotPrefix(manifest.node, manifest.snapshotID)
                for file in manifest.files {
                    let data = try await Self.decompressWithZstdCommand(
                        store.store, key: prefix + file.object, into: restored, name: file.name)
                    #expect(Self.sha256(data) == file.sha256, "\(file.name)")
                    let onDisk = try Data(contentsOf: URL(fileURLWithPath: source.directory.file(file.name)))
                    #expect(data == onDisk, "\(file.name) differs from what Redis wrote")
                }
                // Stopped only: its folder is the test's.
                try await withResource(
                    RedisServer.start(arguments: ["--appendonly", "yes"], directory: restored),
                    cleanUp: { await $0.stop() }
                ) { copy throws in  // `throws`: its only `try` is inside #expect, which closure inference misses
                    #expect(try await RedisContent.read(port: copy.port) == RedisContent.read(port: source.port))
                }
            }
        }
    }

    @Test func aofBackupNeedsAppendonly() async throws {
        try await withResource(RedisServer.start()) { source in
            try await withResource(TestStore.make(.local)) { store throws in  // as above
                let error = await expectFailure(.snapshot) {
                    _ = try await Engine.backup(.test(port: source.port), store: store.store).run(.init(type: .aof))
                }
                #expect(error?.description.contains("needs appendonly yes") == true)
                #expect(try await store.store.listAll(prefix: "").isEmpty)
            }
        }
    }

    @Test func uncompressedBackupsStoreTheFileAsIs() async throws {
        try await withResource(RedisServer.start()) { source in
            try await withResource(TestStore.make(.local)) { store in
                try await RedisDataset.populateAllTypes(source)
                let report = try await Engine.backup(.test(port: source.port), store: store.store)
                    .run(.init(type: .rdb, compression: .none))
                #expect(report.manifest.files[0].object == "dump.rdb")
                #expect(report.manifest.compression.algorithm == "none")
                let prefix = SnapshotLayout.snapshotPrefix(report.manifest.node, report.manifest.snapshotID)
                let stored = try await store.store.getBytes(prefix + "dump.rdb")
                #expect(
                    Data(stored.readableBytesView)
                        == (try Data(contentsOf: URL(fileURLWithPath: source.directory.file("dump.rdb")))))
            }
        }
    }

    @Test func aSaveAlreadyRunningIsWaitedForThenAFreshOneTaken() async throws {
        try await withResource(RedisServer.start(arguments: ["--rdb-key-save-delay", "200"])) { source in
            try await withResource(TestStore.make(.local)) { store in
                try await RedisDataset.populateAllTypes(source)
                // A slow BGSAVE started by someone else (200 µs per key: about 0.1 s).
                try await source.command("BGSAVE")
                try await source.command("SET", "written-after-their-save", "yes")
                let report = try await Engine.backup(.test(port: source.port), store: store.store).run(
                    .init(type: .rdb))
                #expect(report.manifest.keyspaceExact)
                #expect(report.manifest.keyspace["db0"]?.keys == 342)
                let info = try await source.cli(["INFO", "persistence"]).stdoutText
                #expect(info.contains("rdb_saves:2"))
            }
        }
    }
}
