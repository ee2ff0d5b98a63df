import DynokeeperConfiguration
import DynokeeperEngine
import DynokeeperTestSupport
import Foundation
import NIOCore
import ObjectStorage
import Testing

/// `verify` reads stored snapshots back (and `--load` loads them into a throwaway redis-server) without touching
/// the node; `fetch` writes a snapshot's files into a folder that redis-server loads.
@Suite(.tags(.integration)) struct SnapshotVerifierTests {
    /// A node with data of every type, backed up: its only snapshot, and the data.
    static func snapshot(
        _ source: RedisServer, store: any ObjectStore, type: DynokeeperConfiguration.Backup.PersistenceType = .rdb
    ) async throws -> (SnapshotEntry, RedisContent) {
        try await RedisDataset.populateAllTypes(source)
        try await RedisDataset.populateRandom(source, count: 3000, size: 2000)
        let node = NodeSettings.test(port: source.port)
        _ = try await Engine.backup(node, store: store).run(NodeBackup.Options(type: type))
        let entries = try await SnapshotCatalog(store: store, logger: Engine.logger).snapshots(of: node.identity)
        return (try #require(entries.first), try await RedisContent.read(port: source.port))
    }

    @Test(arguments: StoreKind.allCases)
    func anIntactSnapshotVerifiesAndLoads(kind: StoreKind) async throws {
        try await withResource(TestStore.make(kind)) { store in
            try await withResource(RedisServer.start()) { source in
                let (entry, _) = try await Self.snapshot(source, store: store.store)
                let verifier = SnapshotVerifier(store: store.store, logger: Engine.logger)
                let read = await verifier.verify(entry, load: false)
                #expect(read.ok, "\(read.problems)")
                #expect(read.bytes == entry.manifest.size)
                let drill = await verifier.verify(entry, load: true)
                #expect(drill.ok, "\(drill.problems)")
                #expect(drill.loadedKeys?["db0"] == entry.manifest.keyspace["db0"]?.keys)
                #expect(drill.loadedKeys?["db3"] == entry.manifest.keyspace["db3"]?.keys)
            }
        }
    }

    @Test func theDrillsRedisServerGetsNoneOfDynokeepersEnvironment() async throws {
        // What dynokeeper's environment holds besides the basics (the store's keys, the token) stays with it.
        setenv("DRILL_TEST_SECRET_PROBE", "s3cr3t-probe", 1)
        let folder = try TemporaryDirectory(prefix: "drill-env")
        defer { folder.remove() }
        let script = folder.file("redis-server")
        try "#!/bin/sh\nenv > \(folder.file("env"))\nexec redis-server \"$@\"\n".write(
            toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        try await withResource(TestStore.make(.local)) { store in
            try await withResource(RedisServer.start()) { source in
                let (entry, _) = try await Self.snapshot(source, store: store.store)
                var verifier = SnapshotVerifier(store: store.store, logger: Engine.logger)
                verifier.redisServer = script
                let drill = await verifier.verify(entry, load: true)
                #expect(drill.ok, "\(drill.problems)")
                let environment = try String(contentsOfFile: folder.file("env"), encoding: .utf8)
                #expect(environment.contains("PATH="))
                #expect(!environment.contains("s3cr3t-probe"), "\(environment)")
            }
        }
    }

    @Test(arguments: StoreKind.allCases)
    func aDeletedTruncatedOrAlteredObjectIsNamed(kind: StoreKind) async throws {
        try await withResource(TestStore.make(kind)) { store in
            try await withResource(RedisServer.start()) { source in
                let (entry, _) = try await Self.snapshot(source, store: store.store)
                let key = entry.prefix + entry.manifest.files[0].object
                let original = try await store.store.getBytes(key)
                let verifier = SnapshotVerifier(store: store.store, logger: Engine.logger)

                var truncated = original
                truncated.moveWriterIndex(to: original.readableBytes / 2)
                var altered = original
                altered.setInteger(
                    altered.getInteger(at: altered.readableBytes / 2, as: UInt8.self)! ^ 0x55,
                    at: altered.readableBytes / 2)
                for (label, replacement) in [("deleted", nil), ("truncated", truncated), ("altered", altered)] {
                    if let replacement {
                        _ = try await store.store.put(key, bytes: replacement)
                    } else {
                        try await store.store.delete([key])
                    }
                    let report = await verifier.verify(entry, load: false)
                    #expect(!report.ok, "\(label)")
                    #expect(report.snapshot == entry.id.text)
                    #expect(report.problems.count == 1, "\(label): \(report.problems)")
                    #expect(report.problems.first?.hasPrefix("dump.rdb: ") == true, "\(label): \(report.problems)")
                    if label == "deleted" {
                        #expect(report.problems.first?.contains("missing") == true, "\(report.problems)")
                    }
                }
                _ = try await store.store.put(key, bytes: original)
                #expect(await verifier.verify(entry, load: false).ok)
            }
        }
    }

    @Test func theDrillCatchesKeyCountsThatDoNotMatchTheManifest() async throws {
        try await withResource(TestStore.make(.local)) { store in
            try await withResource(RedisServer.start()) { source in
                var (entry, _) = try await Self.snapshot(source, store: store.store)
                // The snapshot claims fewer keys than its RDB holds (its counts are exact).
                entry.manifest.keyspace["db0"]?.keys -= 5
                let report = await SnapshotVerifier(store: store.store, logger: Engine.logger).verify(entry, load: true)
                #expect(!report.ok)
                #expect(report.problems.contains { $0.hasPrefix("load: db0 holds") }, "\(report.problems)")
            }
        }
    }

    @Test(arguments: [DynokeeperConfiguration.Backup.PersistenceType.rdb, .aof])
    func fetchedFilesLoadInRedisWithEveryKeyEqual(type: DynokeeperConfiguration.Backup.PersistenceType) async throws {
        let folder = try TemporaryDirectory(prefix: "fetched")
        defer { folder.remove() }
        try await withResource(TestStore.make(.local)) { store in
            let arguments = type == .aof ? ["--appendonly", "yes"] : []
            try await withResource(RedisServer.start(arguments: arguments)) { source in
                let (entry, content) = try await Self.snapshot(source, store: store.store, type: type)
                let selected = try await SnapshotSelector(store: store.store, logger: Engine.logger).select(
                    SnapshotSelector.Request(source: entry.node, snapshotID: entry.id))
                let export = SnapshotExport(store: store.store, logger: Engine.logger)
                let redisArguments = try await export.fetch(selected, into: folder.path + "/out", force: false)
                // Not into a folder that holds something, unless forced.
                let refused = await #expect(throws: DynokeeperError.self) {
                    _ = try await export.fetch(selected, into: folder.path + "/out", force: false)
                }
                #expect(refused?.code == .invalidRequest)
                _ = try await export.fetch(selected, into: folder.path + "/out", force: true)
                // A damaged object never replaces a good file, nor stays behind under a temporary name.
                let fetched = try FileManager.default.contentsOfDirectory(atPath: folder.path + "/out").sorted()
                let good = try Self.contents(of: folder.path + "/out")
                var damaged = selected
                damaged.files[0].sha256 = String(repeating: "0", count: 64)
                await #expect(throws: (any Error).self) {
                    _ = try await export.fetch(damaged, into: folder.path + "/out", force: true)
                }
                #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path + "/out").sorted() == fetched)
                #expect(try Self.contents(of: folder.path + "/out") == good)

                // The printed arguments point redis-server at the fetched folder (the last --dir wins).
                try await withResource(
                    RedisServer.start(arguments: redisArguments), cleanUp: { await $0.stop() }
                ) { loaded in
                    let restored = try await RedisContent.read(port: loaded.port)
                    #expect(restored == content, "\(restored.differences(from: content).prefix(5))")
                }
            }
        }
    }

    /// Every regular file under a folder, by relative path.
    static func contents(of folder: String) throws -> [String: Data] {
        var files: [String: Data] = [:]
        for case let name as String in FileManager.default.enumerator(atPath: folder)! {
            var isFolder: ObjCBool = false
            if FileManager.default.fileExists(atPath: folder + "/" + name, isDirectory: &isFolder), !isFolder.boolValue
            {
                files[name] = try Data(contentsOf: URL(fileURLWithPath: folder + "/" + name))
            }
        }
        return files
    }

    /// A damaged manifest in another snapshot's folder blocks only what needs every manifest (the newest, a date),
    /// not a snapshot asked for by id.
    @Test func aDamagedManifestElsewhereDoesNotBlockASnapshotAskedForById() async throws {
        try await withResource(TestStore.make(.local)) { store in
            try await withResource(RedisServer.start()) { source in
                let (entry, _) = try await Self.snapshot(source, store: store.store)
                let other = SnapshotID("20200101T000000Z")!
                let damagedKey = SnapshotLayout.manifestKey(entry.node, other)
                _ = try await store.store.put(damagedKey, bytes: ByteBuffer(string: "{not a manifest"))
                let catalog = SnapshotCatalog(store: store.store, logger: Engine.logger)
                let scan = try await catalog.scan(of: entry.node)
                #expect(scan.entries.map(\.id) == [entry.id])
                #expect(scan.damaged.map(\.id) == [other])
                await #expect(throws: DynokeeperError.self) { _ = try await catalog.snapshots(of: entry.node) }

                let selector = SnapshotSelector(store: store.store, logger: Engine.logger)
                let byID = try await selector.select(.init(source: entry.node, snapshotID: entry.id))
                #expect(byID.id == entry.id)
                await #expect(throws: DynokeeperError.self) {
                    _ = try await selector.select(.init(source: entry.node))
                }
                await #expect(throws: DynokeeperError.self) {
                    _ = try await selector.select(.init(source: entry.node, snapshotID: other))
                }
            }
        }
    }

    @Test func foldersWithoutAManifestAreListedAsIncomplete() async throws {
        try await withResource(TestStore.make(.local)) { store in
            try await withResource(RedisServer.start()) { source in
                let (entry, _) = try await Self.snapshot(source, store: store.store)
                let catalog = SnapshotCatalog(store: store.store, logger: Engine.logger)
                #expect(try await catalog.incomplete(of: entry.node).isEmpty)
                let half = SnapshotLayout.snapshotPrefix(entry.node, SnapshotID("20300101T000000Z")!)
                _ = try await store.store.put(half + "dump.rdb.zst", bytes: ByteBuffer(repeating: 1, count: 10))
                let incomplete = try await catalog.incomplete(of: entry.node)
                #expect(incomplete.map(\.prefix) == [half])
                #expect(incomplete.first?.objects == 1 && incomplete.first?.bytes == 10)
                // Not listed, not chosen.
                #expect(try await catalog.snapshots(of: entry.node).map(\.id) == [entry.id])

                // A backup killed in its first upload leaves only an unfinished one (here a local store's temporary
                // file).
                let killed = SnapshotLayout.snapshotPrefix(entry.node, SnapshotID("20290101T000000Z")!)
                let folder = try #require(store.folder).file(killed)
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                try Data(count: 5).write(to: URL(fileURLWithPath: folder + "/.dynokeeper-tmp-killed"))
                let both = try await catalog.incomplete(of: entry.node)
                #expect(both.map(\.prefix) == [half, killed])
                #expect(both.last?.objects == 0 && both.last?.uploads == 1)
            }
        }
    }

    /// A snapshot dated in the future (a fast clock) is never the default choice; named by id it is restorable.
    @Test func aFutureSnapshotIsNeverTheNewest() async throws {
        try await withResource(TestStore.make(.local)) { store in
            try await withResource(RedisServer.start()) { source in
                let (entry, _) = try await Self.snapshot(source, store: store.store)
                let future = SnapshotID("20990101T000000Z")!
                var options = NodeBackup.Options(type: .rdb, snapshotID: future)
                options.method = .file
                _ = try await Engine.backup(.test(port: source.port), store: store.store).run(options)
                let selector = SnapshotSelector(store: store.store, logger: Engine.logger)
                #expect(try await selector.select(.init(source: entry.node)).id == entry.id)
                #expect(try await selector.select(.init(source: entry.node, snapshotID: future)).id == future)
                // Listings flag it.
                let listed = try await SnapshotCatalog(store: store.store, logger: Engine.logger).snapshots(
                    of: entry.node)
                #expect(listed.map { SnapshotSummary($0).future } == [true, nil])
            }
        }
    }
}
