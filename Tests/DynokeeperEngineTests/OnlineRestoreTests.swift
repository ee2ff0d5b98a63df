import DynokeeperConfiguration
import DynokeeperEngine
import DynokeeperTestSupport
import Foundation
import NIOCore
import ObjectStorage
import Testing

/// `restore.method: online`: the running Redis loads the snapshot over the replication protocol while it
/// downloads, and is never stopped; a transfer that breaks leaves it serving its old data.
@Suite(.tags(.integration)) struct OnlineRestoreTests {
    /// Redis's own state that an online restore changes for a while and must put back.
    static func replicationState(_ node: RestoreNode) async throws -> [String] {
        var state: [String] = []
        for name in ["repl-diskless-load", "masterauth", "masteruser"] {
            state.append(try await node.redis.cli(["CONFIG", "GET", name]).stdoutText)
        }
        let role = try await node.redis.cli(["INFO", "replication"]).stdoutText
        state.append(role.split(whereSeparator: \.isNewline).first { $0.hasPrefix("role:") }.map(String.init) ?? "")
        return state
    }

    @Test(arguments: [false, true])
    func everyKeyLoadsWhileRedisKeepsRunning(appendOnly: Bool) async throws {
        try await withResource(TestStore.make(.local)) { store in
            try await withResource(
                RestoreNode.make(appendOnly: appendOnly, withDynomite: true, restoreMethod: "online")
            ) { node in
                try await node.populate("online")
                let manifest = try await node.backup(store: store.store)
                let snapshot = try await node.content()
                try await node.scribble("after-backup")
                let stateBefore = try await Self.replicationState(node)
                let pid = node.redis.pid

                let report = try await node.restore(store: store.store).run(NodeRestoreTests.request(node))
                #expect(report.source.id == manifest.snapshotID)
                #expect(try await node.content() == snapshot)
                // The same Redis process, never stopped; Dynomite stopped during the load and started again.
                #expect(node.redis.pid == pid)
                #expect(node.redis.events().suffix(2) == ["dynomite-stop", "dynomite-start"])
                #expect(!node.redis.events().contains("redis-stop"))
                #expect(try await Self.replicationState(node) == stateBefore)
                #expect(report.steps.map(\.name).contains("download and load"))
                #expect(!FileManager.default.fileExists(atPath: node.redis.dataPath + "/.dynokeeper-restore"))
                #expect(!node.hasJournal)
                // Saved: a Redis that restarts comes back with the restored data.
                await node.redis.stop()
                try await node.redis.start()
                #expect(try await node.content() == snapshot)
            }
        }
    }

    /// Redis runs as Debian's `redis` user and dynokeeper as root: the RDB written during the load takes the owner
    /// and mode of the file it replaces, and Redis comes back with the restored data after a restart.
    @Test(.enabled(if: SystemUsers.canSwitchUsers, "needs root to run Redis as redis"))
    func asAnotherUserTheRDBFileBelongsToRedis() async throws {
        try await withResource(TestStore.make(.local)) { store in
            try await withResource(RestoreNode.make(restoreMethod: "online", asRedisUser: true)) { node in
                try await node.populate("as-redis")
                _ = try await node.backup(store: store.store)
                let snapshot = try await node.content()
                try await node.scribble("own")
                _ = try await node.restore(store: store.store).run(NodeRestoreTests.request(node))
                #expect(try await node.content() == snapshot)
                let redis = try #require(SystemUsers.redis)
                let owner = SystemUsers.owner(of: node.redis.dataPath + "/dump.rdb")
                #expect(owner?.uid == redis.uid && owner?.gid == redis.gid, "\(String(describing: owner))")
                await node.redis.stop()
                try await node.redis.start()
                #expect(try await node.content() == snapshot)
            }
        }
    }

    /// A user that may not send REPLICAOF could not put Redis back on its own after the load: refused up front.
    @Test func aUserWithoutReplicaofIsRefusedBeforeAnythingIsTouched() async throws {
        let folder = try TemporaryDirectory(prefix: "online-acl")
        defer { folder.remove() }
        try "restorer-secret\n".write(toFile: folder.file("password"), atomically: true, encoding: .utf8)
        try await withResource(TestStore.make(.local)) { store in
            try await withResource(
                RestoreNode.make(
                    withDynomite: true, restoreMethod: "online",
                    moreYAML: "redis.user: restorer\nredis.password_file: \(folder.file("password"))")
            ) { node in
                _ = try await node.redis.cli([
                    "ACL", "SETUSER", "restorer", "on", ">restorer-secret", "+@all", "-replicaof", "-slaveof",
                ])
                try await node.populate("acl")
                _ = try await node.backup(store: store.store)
                try await node.scribble("own")
                let own = try await node.content()
                let error = await expectFailure(.snapshot) {
                    _ = try await node.restore(store: store.store).run(NodeRestoreTests.request(node))
                }
                #expect(error?.message.contains("+replicaof") == true, "\(String(describing: error))")
                #expect(try await node.content() == own)
                #expect(!node.redis.events().contains("dynomite-stop"))
                #expect(!node.hasJournal)
            }
        }
    }

    /// A node whose RDBs Redis cannot check (no checksum, no compression: every RDB of the same keys and value
    /// lengths has the same length), with two snapshots of the same size and different values, and its own data.
    static func twoLookalikeSnapshots(
        _ node: RestoreNode, store: any ObjectStore
    ) async throws -> (first: SnapshotManifest, second: SnapshotManifest, own: RedisContent) {
        var manifests: [SnapshotManifest] = []
        for (day, letter) in [("20260101", "a"), ("20260102", "b")] {
            _ = try await node.redis.cli(["FLUSHALL"])
            let value = String(repeating: letter, count: 300)
            let set = try await node.redis.cli(
                ["EVAL", "for i=1,5000 do redis.call('SET', 'key:'..i, ARGV[1]) end", "0", value])
            #expect(set.status == 0)
            var options = NodeBackup.Options(type: .rdb, compression: .none, snapshotID: SnapshotID("\(day)T000000Z"))
            options.method = .file
            manifests.append(try await Engine.backup(try node.settings, store: store).run(options).manifest)
        }
        try await node.scribble("own")
        return (manifests[0], manifests[1], try await node.content())
    }

    static func restoring(_ node: RestoreNode, _ manifest: SnapshotManifest) throws -> NodeRestore.Options {
        NodeRestore.Options(
            request: SnapshotSelector.Request(
                source: try node.settings.identity, date: manifest.snapshotID.date.addingTimeInterval(3600)))
    }

    @Test func anObjectReplacedByAnotherOfTheSameSizeNeverReplacesTheData() async throws {
        try await withResource(TestStore.make(.local)) { store in
            try await withResource(
                RestoreNode.make(
                    withDynomite: true, restoreMethod: "online", extra: ["rdbchecksum no", "rdbcompression no"])
            ) { node in
                let (first, second, own) = try await Self.twoLookalikeSnapshots(node, store: store.store)
                #expect(first.files[0].size == second.files[0].size)
                let stateBefore = try await Self.replicationState(node)
                let pid = node.redis.pid

                // The first snapshot's object holds the second's bytes: a valid RDB that Redis would load as it
                // is; only the SHA-256, checked before the last bytes go, tells.
                let replaced = RewritingStore(base: store.store) { key, base in
                    guard key.hasSuffix("/20260101T000000Z/dump.rdb") else {
                        return try await base.get(key, range: nil)
                    }
                    return try await base.get(key.replacingOccurrences(of: "20260101", with: "20260102"), range: nil)
                }
                let failure = await expectFailure(.snapshot) {
                    _ = try await node.restore(store: replaced).run(Self.restoring(node, first))
                }
                #expect(failure?.message.contains("SHA-256") == true, "\(String(describing: failure))")
                #expect(try await node.content() == own)
                #expect(node.redis.pid == pid)
                #expect(try await Self.replicationState(node) == stateBefore)
                #expect(node.dynomite?.isRunning == true)
                #expect(!node.hasJournal)
                #expect(!FileManager.default.fileExists(atPath: node.redis.dataPath + "/.dynokeeper-restore"))
            }
        }
    }

    /// A failure after Redis got the last bytes (here: no time at all to load) may leave Redis with the restored
    /// data: the rollback then brings the previous data back from the files kept aside, never trusts Redis's memory.
    @Test func aFailureAfterTheLastBytesRollsBackFromTheKeptFiles() async throws {
        try await withResource(TestStore.make(.local)) { store in
            try await withResource(RestoreNode.make(withDynomite: true, restoreMethod: "online")) { node in
                let (first, _, own) = try await Self.twoLookalikeSnapshots(node, store: store.store)
                var restore = try node.restore(store: store.store)
                restore.onlineLoadTimeout = .zero
                let failure = await expectFailure(.snapshot) {
                    _ = try await restore.run(Self.restoring(node, first))
                }
                #expect(failure?.message.contains("did not finish loading") == true, "\(String(describing: failure))")
                #expect(failure?.message.contains("Rolled back") == true, "\(String(describing: failure))")
                #expect(try await node.content() == own)
                #expect(try await node.redis.cli(["INFO", "replication"]).stdoutText.contains("role:master"))
                #expect(node.dynomite?.isRunning == true)
                #expect(!node.hasJournal)
            }
        }
    }

    @Test func aDownloadThatBreaksOffLeavesTheOldDataServing() async throws {
        try await withResource(TestStore.make(.local)) { store in
            try await withResource(RestoreNode.make(withDynomite: true, restoreMethod: "online")) { node in
                let (first, _, own) = try await Self.twoLookalikeSnapshots(node, store: store.store)
                let pid = node.redis.pid
                let cut = RewritingStore(base: store.store) { key, base in
                    let download = try await base.get(key, range: nil)
                    guard key.hasSuffix("dump.rdb") else { return download }
                    var bytes = try await download.body.collect(upTo: 64 << 20)
                    let (body, continuation) = AsyncThrowingStream.makeStream(of: ByteBuffer.self)
                    continuation.yield(bytes.readSlice(length: bytes.readableBytes / 2)!)
                    continuation.finish(throwing: FailingDownloadStore.CutOff())
                    return ObjectDownload(info: download.info, range: download.range, body: ByteStream(body))
                }
                await #expect(throws: (any Error).self) {
                    _ = try await node.restore(store: cut).run(Self.restoring(node, first))
                }
                #expect(try await node.content() == own)
                #expect(node.redis.pid == pid)
                #expect(try await node.redis.cli(["INFO", "replication"]).stdoutText.contains("role:master"))
                #expect(node.dynomite?.isRunning == true)
                #expect(!node.hasJournal)
            }
        }
    }

    /// Damage Redis finds before the SHA-256 can (the middle of an uncompressed object): Redis exits, the rollback
    /// starts it on the old data, and the error says that Redis dropped the link and how to check the snapshot.
    @Test func damageRedisFindsFirstIsNamedAndRolledBack() async throws {
        try await withResource(TestStore.make(.local)) { store in
            try await withResource(RestoreNode.make(withDynomite: true, restoreMethod: "online")) { node in
                // About 24 MiB, sent in many pieces: the damage goes to Redis long before the last one.
                try await RedisDataset.populateRandom(node.redis, count: 24000, size: 1024)
                var options = NodeBackup.Options(type: .rdb, compression: .none)
                options.method = .file
                let manifest = try await Engine.backup(try node.settings, store: store.store).run(options).manifest
                try await node.scribble("own")
                let own = try await node.content()
                let damaged = RewritingStore(base: store.store) { key, base in
                    let download = try await base.get(key, range: nil)
                    guard key.hasSuffix("dump.rdb") else { return download }
                    var bytes = try await download.body.collect(upTo: 64 << 20)
                    // 4 KiB of 0xFF spans several entries: a type byte or a length Redis cannot read.
                    bytes.setBytes(
                        [UInt8](repeating: 0xFF, count: 4096), at: bytes.readerIndex + bytes.readableBytes / 2)
                    var pieces: [ByteBuffer] = []
                    while let piece = bytes.readSlice(length: min(1 << 20, bytes.readableBytes)),
                        piece.readableBytes > 0
                    {
                        pieces.append(piece)
                    }
                    return ObjectDownload(info: download.info, range: download.range, body: ByteStream(buffers: pieces))
                }
                let failure = await expectFailure(.snapshot) {
                    _ = try await node.restore(store: damaged).run(Self.restoring(node, manifest))
                }
                #expect(
                    failure?.message.contains("dropped the replication link while it loaded") == true,
                    "\(String(describing: failure))")
                #expect(failure?.message.contains("dynokeeper verify") == true)
                #expect(failure?.message.contains("Rolled back") == true, "\(String(describing: failure))")
                #expect(try await node.content() == own)
                #expect(try await node.redis.cli(["INFO", "replication"]).stdoutText.contains("role:master"))
                #expect(node.dynomite?.isRunning == true)
                #expect(!node.hasJournal)

                // Without the safety save, Redis comes back on what it last saved: the message must not promise
                // the data it held.
                var unsaved = try Self.restoring(node, manifest)
                unsaved.skipSafetySave = true
                let second = await expectFailure(.snapshot) {
                    _ = try await node.restore(store: damaged).run(unsaved)
                }
                #expect(
                    second?.message.contains("without the writes after that save") == true,
                    "\(String(describing: second))")
                #expect(second?.message.contains("previous data is back in place") == false)
                #expect(node.dynomite?.isRunning == true)
                #expect(!node.hasJournal)
            }
        }
    }

    @Test func anAOFSnapshotOrAReplicaIsRefusedBeforeAnythingIsTouched() async throws {
        try await withResource(TestStore.make(.local)) { store in
            try await withResource(RestoreNode.make(appendOnly: true, restoreMethod: "online")) { node in
                try await node.populate("aof")
                _ = try await node.backup(store: store.store, type: .aof)
                let error = await expectFailure(.snapshot) {
                    _ = try await node.restore(store: store.store).run(NodeRestoreTests.request(node))
                }
                #expect(error?.message.contains("AOF snapshot") == true)
                #expect(!node.hasJournal)

                // A Redis that is itself a replica (here, of a port where nothing listens) is left alone.
                try await Task.sleep(for: .seconds(1))
                _ = try await node.backup(store: store.store)
                _ = try await node.redis.cli(["REPLICAOF", "127.0.0.1", "1"])
                let replica = await expectFailure(.snapshot) {
                    _ = try await node.restore(store: store.store).run(NodeRestoreTests.request(node))
                }
                #expect(replica?.message.contains("itself a replica") == true)
                #expect(try await node.redis.cli(["INFO", "replication"]).stdoutText.contains("master_port:1"))
                _ = try await node.redis.cli(["REPLICAOF", "NO", "ONE"])
            }
        }
    }
}

/// A store whose downloads go through a function of the key and the real store.
struct RewritingStore: ObjectStore {
    let base: any ObjectStore
    let download: @Sendable (String, any ObjectStore) async throws -> ObjectDownload

    var location: String { base.location }

    func put<Body: AsyncSequence & Sendable>(
        _ key: String, body: Body, options: PutOptions
    ) async throws -> ObjectInfo where Body.Element == ByteBuffer {
        try await base.put(key, body: body, options: options)
    }

    func get(_ key: String, range: Range<Int64>?) async throws -> ObjectDownload {
        guard range == nil else { return try await base.get(key, range: range) }
        return try await download(key, base)
    }

    func head(_ key: String) async throws -> ObjectInfo? { try await base.head(key) }

    func list(prefix: String, delimiter: String?, continuation: String?, maxKeys: Int) async throws -> ObjectListing {
        try await base.list(prefix: prefix, delimiter: delimiter, continuation: continuation, maxKeys: maxKeys)
    }

    func delete(_ keys: [String]) async throws { try await base.delete(keys) }
}
