import DynokeeperConfiguration
import DynokeeperEngine
import DynokeeperTestSupport
import Foundation
import NIOCore
import ObjectStorage
import Synchronization
import Testing

/// A streamed backup turns Redis's LZF (`rdbcompression`) off for its fork only, puts it back as the fork starts, and
/// mends it after a backup that was stopped in between; `backup.keep_redis_lzf`, a user without `CONFIG SET` and a
/// Redis whose owner turned LZF off keep Redis as it is.
@Suite(.tags(.integration)) struct LZFPauseTests {
    /// A string LZF shrinks to a fraction: present as it is in the RDB only when LZF was off.
    static let value = String(repeating: "dynokeeper-lzf-", count: 200)
    static let marker = "rdbcompression-off"

    static func options(keepLZF: Bool = false) -> NodeBackup.Options {
        var options = NodeBackup.Options(type: .rdb)
        options.method = .stream
        options.keepRedisLZF = keepLZF
        return options
    }

    static func rdbcompression(_ redis: RedisServer) async throws -> String {
        try await redis.cli(["CONFIG", "GET", "rdbcompression"]).stdoutText.split(separator: "\n").last.map(String.init)
            ?? ""
    }

    /// A Redis (with `repl-diskless-sync-delay` `delay`) holding ``value``, a local store and a folder for the marker.
    static func withSource(
        delay: Int, folder prefix: String,
        _ body: (RedisServer, TestStore, TemporaryDirectory) async throws -> Void
    ) async throws {
        let folder = try TemporaryDirectory(prefix: prefix)
        defer { folder.remove() }
        try await withResource(RedisServer.start(arguments: ["--repl-diskless-sync-delay", String(delay)])) { source in
            try await withResource(TestStore.make(.local)) { store in
                _ = try await source.cli(["SET", "compressible", Self.value])
                try await body(source, store, folder)
            }
        }
    }

    /// A backup that keeps its LZF marker in `folder`.
    static func backup(_ source: RedisServer, store: any ObjectStore, folder: TemporaryDirectory) -> NodeBackup {
        var backup = Engine.backup(.test(port: source.port), store: store)
        backup.stateFolder = { folder.path }
        return backup
    }

    /// Whether the fork wrote ``value`` as it is, not LZF-compressed.
    static func writtenWithoutLZF(_ rdb: Data) -> Bool { rdb.range(of: Data(value.utf8)) != nil }

    /// The stored RDB, decompressed.
    static func storedRDB(
        _ report: NodeBackup.Report, store: any ObjectStore, folder: TemporaryDirectory
    ) async throws
        -> Data
    {
        let manifest = report.manifest
        return try await NodeBackupTests.decompressWithZstdCommand(
            store, key: SnapshotLayout.snapshotPrefix(manifest.node, manifest.snapshotID) + "dump.rdb.zst",
            into: folder, name: "dump-\(manifest.snapshotID).rdb")
    }

    /// A store that, when the first compressed bytes reach it, runs `check` while the upload waits: the link is held
    /// back meanwhile, so Redis's fork is still writing.
    static func checking(
        _ inner: any ObjectStore, _ check: @escaping @Sendable () async throws -> Void
    )
        -> UploadRewritingStore
    {
        UploadRewritingStore(inner: inner) { key, body, options, inner in
            guard key.hasSuffix("dump.rdb.zst") else { return try await inner.put(key, body: body, options: options) }
            let first = First()
            let checked = body.map { @Sendable chunk in
                if first.take() { try await check() }
                return chunk
            }
            return try await inner.put(key, body: checked, options: options)
        }
    }

    final class Seen: Sendable {
        private let value = Mutex<[String]>([])
        func set(_ new: [String]) { value.withLock { $0 = new } }
        func get() -> [String] { value.withLock { $0 } }
    }

    final class First: Sendable {
        private let taken = Mutex(false)
        func take() -> Bool {
            taken.withLock { taken in
                defer { taken = true }; return !taken
            }
        }
    }

    @Test func theForkWritesWithoutLZFAndRedisHasItBackBeforeTheForkEnds() async throws {
        try await Self.withSource(delay: 0, folder: "lzf") { source, store, folder in
            // About 24 MiB, far more than the link's pipes hold: the fork is still writing when the upload starts.
            try await RedisDataset.populateRandom(source, count: 24000, size: 1024)
            let seen = Seen()
            let checking = Self.checking(store.store) {
                let lzf = try await Self.rdbcompression(source)
                let persistence = try await source.cli(["INFO", "persistence"]).stdoutText
                seen.set([lzf, persistence.contains("rdb_bgsave_in_progress:1") ? "fork" : "no fork"])
            }
            let backup = Self.backup(source, store: checking, folder: folder)
            let report = try await backup.run(Self.options())
            #expect(report.manifest.method == .stream)
            #expect(seen.get() == ["yes", "fork"])
            let rdb = try await Self.storedRDB(report, store: store.store, folder: folder)
            #expect(Self.writtenWithoutLZF(rdb), "the string is LZF-compressed in the RDB")
            #expect(try await Self.rdbcompression(source) == "yes")
            #expect(!FileManager.default.fileExists(atPath: folder.file(Self.marker)))

            // The RDB loads, with the string as it was.
            let loaded = try TemporaryDirectory(prefix: "lzf-load")
            defer { loaded.remove() }
            try rdb.write(to: URL(fileURLWithPath: loaded.file("dump.rdb")))
            try await withResource(RedisServer.start(directory: loaded), cleanUp: { await $0.stop() }) { copy in
                let value = try await copy.cli(["GET", "compressible"]).stdoutText
                #expect(value.trimmingCharacters(in: .newlines) == Self.value)
            }

            let kept = try await backup.run(Self.options(keepLZF: true))
            let keptRDB = try await Self.storedRDB(kept, store: store.store, folder: folder)
            #expect(!Self.writtenWithoutLZF(keptRDB))
        }
    }

    /// The marker of a backup stopped while LZF was off: the next backup (by BGSAVE too) turns LZF back on and
    /// removes the marker, unless Redis has restarted since (another run_id: its owner's setting then stands); with
    /// no marker, an owner's `rdbcompression no` stays, streamed backups included.
    @Test func theNextBackupMendsWhatAStoppedOneLeftAndNothingElse() async throws {
        try await Self.withSource(delay: 0, folder: "lzf-mend") { source, store, folder in
            let backup = Self.backup(source, store: store.store, folder: folder)
            var file = Self.options()
            file.method = .file

            // Left by a backup of another Redis process.
            try "left by a killed backup\nrun_id 0123456789abcdef\n".write(
                toFile: folder.file(Self.marker), atomically: true, encoding: .utf8)
            _ = try await source.cli(["CONFIG", "SET", "rdbcompression", "no"])
            _ = try await backup.run(file)
            #expect(try await Self.rdbcompression(source) == "no")
            #expect(!FileManager.default.fileExists(atPath: folder.file(Self.marker)))

            // Left by a backup of this one.
            try "left by a killed backup\nrun_id \(try #require(try await source.runID()))\n".write(
                toFile: folder.file(Self.marker), atomically: true, encoding: .utf8)
            _ = try await backup.run(file)
            #expect(try await Self.rdbcompression(source) == "yes")
            #expect(!FileManager.default.fileExists(atPath: folder.file(Self.marker)))

            // The owner's own choice.
            _ = try await source.cli(["CONFIG", "SET", "rdbcompression", "no"])
            let report = try await backup.run(Self.options())
            #expect(try await Self.rdbcompression(source) == "no")
            #expect(!FileManager.default.fileExists(atPath: folder.file(Self.marker)))
            let rdb = try await Self.storedRDB(report, store: store.store, folder: folder)
            #expect(Self.writtenWithoutLZF(rdb))
        }
    }

    /// Redis would not fork at once (a delay for more replicas, a BGSAVE running): its own saves meanwhile would go
    /// without LZF, so LZF stays on.
    @Test func lzfStaysOnWhenRedisWouldNotForkAtOnce() async throws {
        try await Self.withSource(delay: 1, folder: "lzf-wait") { source, store, folder in
            try await RedisDataset.populateRandom(source, count: 1000, size: 64)
            let backup = Self.backup(source, store: store.store, folder: folder)
            let delayed = try await backup.run(Self.options())
            let delayedRDB = try await Self.storedRDB(delayed, store: store.store, folder: folder)
            #expect(!Self.writtenWithoutLZF(delayedRDB))

            _ = try await source.cli(["CONFIG", "SET", "repl-diskless-sync-delay", "0"])
            // A BGSAVE that lasts until it is stopped (0.1 s per key, for its fork only).
            _ = try await source.cli(["CONFIG", "SET", "rdb-key-save-delay", "100000"])
            // Refused while the last backup's fork is still exiting.
            let start = ContinuousClock.now + .seconds(30)
            while try await !source.cli(["BGSAVE"]).stdoutText.contains("started"), ContinuousClock.now < start {
                try await Task.sleep(for: .milliseconds(50))
            }
            _ = try await source.cli(["CONFIG", "SET", "rdb-key-save-delay", "0"])
            #expect(try await source.cli(["INFO", "persistence"]).stdoutText.contains("rdb_bgsave_in_progress:1"))
            async let behind = backup.run(Self.options())
            // Once the backup's link waits for the BGSAVE to end (it has asked for the RDB), LZF is still on.
            let deadline = ContinuousClock.now + .seconds(60)
            var attached = false
            while !attached && ContinuousClock.now < deadline {
                attached = try await source.cli(["INFO", "replication"]).stdoutText.contains("slave0:")
                if !attached { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(attached)
            #expect(try await Self.rdbcompression(source) == "yes")
            // Ends the BGSAVE: Redis then forks for the backup.
            let children = try await ProcessRunner.run("pgrep", ["-P", String(source.process.pid)])
            for child in children.stdoutText.split(whereSeparator: \.isNewline) { kill(pid_t(child)!, SIGKILL) }
            let behindRDB = try await Self.storedRDB(try await behind, store: store.store, folder: folder)
            #expect(!Self.writtenWithoutLZF(behindRDB))
            #expect(try await Self.rdbcompression(source) == "yes")
            #expect(!FileManager.default.fileExists(atPath: folder.file(Self.marker)))
        }
    }

    /// An ACL user without `CONFIG SET` (the README's least-privilege ACL for streamed backups): the backup streams
    /// with Redis's LZF, and leaves no marker.
    @Test func aUserWithoutConfigSetStreamsWithLZF() async throws {
        try await Self.withSource(delay: 0, folder: "lzf-acl") { source, store, folder in
            var backup = try await Engine.backup(
                asUserWith: ["+info", "+config|get", "+bgsave", "+psync", "+replconf"], of: source,
                store: store.store, folder: folder)
            backup.stateFolder = { folder.path }
            let report = try await backup.run(Self.options())
            #expect(report.manifest.method == .stream)
            #expect(try await Self.rdbcompression(source) == "yes")
            #expect(!FileManager.default.fileExists(atPath: folder.file(Self.marker)))
            let rdb = try await Self.storedRDB(report, store: store.store, folder: folder)
            #expect(!Self.writtenWithoutLZF(rdb))
        }
    }
}
