import DynokeeperConfiguration
import DynokeeperEngine
import DynokeeperTestSupport
import Foundation
import NIOCore
import ObjectStorage
import RedisClient
import Testing

/// The point-in-time archiver as `serve` runs it, against a real redis-server: writes in phases with the moment
/// each ended, then restores to those moments compared key by key with the state recorded then.
@Suite(.tags(.integration)) struct PointInTimeTests {
    /// A running archiver.
    struct Archiving {
        let archiver: StreamArchiver
        let task: Task<Void, Never>

        static func start(_ node: RestoreNode, store: any ObjectStore) throws -> Archiving {
            let archiver = NodeComponents(
                configuration: node.configuration, node: try node.settings, store: store, logger: Engine.logger
            ).archiver()
            return Archiving(archiver: archiver, task: Task { await archiver.run() })
        }

        func stop() async {
            task.cancel()
            await task.value
        }

        /// Waits until the archiver has every command Redis has run so far, and returns that moment: the state of
        /// the node now is the state a restore to it brings back. A marker sent after the moment is waited for too,
        /// so that the archive reaches it once the archiver stops.
        func storedNow(_ node: RestoreNode) async throws -> Date {
            try await received(node)
            let moment = Date()
            try await Task.sleep(for: .milliseconds(20))
            try await stored(past: moment)
            return moment
        }

        /// Waits until the archive is stored past `moment` (a segment closes every second, at a marker).
        func stored(past moment: Date) async throws {
            for _ in 0..<600 {
                if let until = await archiver.status.storedUntil, until >= moment { return }
                try await Task.sleep(for: .milliseconds(50))
            }
            Issue.record("the archive did not reach \(moment): \(await archiver.status)")
            throw CancellationError()
        }

        /// Waits until the archiver has received Redis's stream up to its current offset.
        func received(_ node: RestoreNode) async throws {
            let info = try await node.redis.cli(["INFO", "replication"]).stdoutText
            let line = try #require(
                info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("master_repl_offset:") })
            let offset = try #require(Int64(line.dropFirst("master_repl_offset:".count)))
            for _ in 0..<300 {
                if let received = await archiver.status.receivedOffset, received >= offset { return }
                try await Task.sleep(for: .milliseconds(50))
            }
            Issue.record("the archiver did not receive offset \(offset): \(await archiver.status)")
            throw CancellationError()
        }

        func waitForBase() async throws -> String {
            for _ in 0..<300 {
                if let base = await archiver.status.base { return base }
                try await Task.sleep(for: .milliseconds(50))
            }
            throw TestSupportError("no base snapshot: \(await archiver.status)")
        }
    }

    static let yaml = "pitr:\n  enabled: true\n  segment_seconds: 1\n"

    /// A store and a node whose Redis streams to replicas at once, configured for point-in-time recovery.
    static func withNode(
        _ kind: StoreKind = .local, extra: [String] = [], _ body: (TestStore, RestoreNode) async throws -> Void
    ) async throws {
        try await withResource(TestStore.make(kind)) { store in
            try await withResource(
                RestoreNode.make(extra: ["repl-diskless-sync-delay 0"] + extra, moreYAML: Self.yaml)
            ) { node in try await body(store, node) }
        }
    }

    static func request(_ node: RestoreNode, to moment: Date) throws -> NodeRestore.Options {
        var options = RestoreRequest().options(node.configuration, node: try node.settings)
        options.toTime = moment
        options.skipSafetySave = true
        return options
    }

    static func send(_ node: RestoreNode, _ commands: [[String]]) async throws {
        _ = try await RedisConnection.withConnection(to: RedisAddress(host: "127.0.0.1", port: node.port)) {
            try await $0.sendPipelined(commands)
        }
    }

    /// Every kind of write a replica is sent: several databases (SELECT), MULTI/EXEC, a script (replicated as its
    /// effects), an expiry (replicated as DEL), TTLs, and a FLUSHALL, the corruption case: restoring to just before
    /// it brings every key back.
    @Test(arguments: StoreKind.allCases) func restoresToEachMomentKeyByKey(kind: StoreKind) async throws {
        try await Self.withNode(kind) { store, node in
            try await node.populate("before")
            let archiving = try Archiving.start(node, store: store.store)
            let base = try await archiving.waitForBase()

            try await Self.send(
                node,
                [
                    ["SET", "phase", "a"], ["INCR", "counter"], ["SELECT", "3"], ["SET", "db3:key", "a"],
                    ["SELECT", "0"], ["MULTI"], ["HSET", "tx:hash", "f", "1"], ["INCRBY", "tx:count", "5"],
                    ["EXEC"],
                    [
                        "EVAL", "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('INCR', 'script:runs')",
                        "1",
                        "script:key", "a",
                    ],
                    ["SET", "short", "x", "PX", "100"], ["SET", "ttl:key", "t", "EX", "7200"],
                ])
            try await Task.sleep(for: .milliseconds(250))
            _ = try await node.redis.cli(["GET", "short"])  // expired: Redis deletes it and sends DEL
            let momentA = try await archiving.storedNow(node)
            let stateA = try await node.content()

            try await Self.send(
                node,
                [
                    ["SET", "phase", "b"], ["INCR", "counter"], ["DEL", "ttl:key"], ["SELECT", "5"],
                    ["RPUSH", "db5:list", "1", "2", "3"], ["SELECT", "3"], ["SET", "db3:key", "b"],
                    ["EVAL", "return redis.call('INCR', 'script:runs')", "0"],
                ])
            let momentB = try await archiving.storedNow(node)
            let stateB = try await node.content()

            _ = try await node.redis.cli(["FLUSHALL"])
            _ = try await node.redis.cli(["SET", "after", "the flush"])
            let momentC = try await archiving.storedNow(node)
            let stateC = try await node.content()
            await archiving.stop()

            let restore = try node.restore(store: store.store)
            for (moment, state, name) in [(momentB, stateB, "B"), (momentA, stateA, "A"), (momentC, stateC, "C")] {
                let report = try await restore.run(try Self.request(node, to: moment))
                #expect(report.source.id.text == base, "the stream's base")
                #expect(report.notes.contains { $0.hasPrefix("replayed ") }, "\(report.notes)")
                let restored = try await node.content()
                #expect(restored == state, "state \(name)")
            }
            #expect(stateB.databases[3] != nil && stateB.databases[5] != nil && stateC.databases[3] == nil)
            // Restored to B, the data is also on disk: Redis restarted on its files holds it.
            _ = try await restore.run(try Self.request(node, to: momentB))
            try await node.redis.stop()
            try await node.redis.start()
            #expect(try await node.content() == stateB)
        }
    }

    /// A burst of writes reaches the archiver seconds after Redis ran it (more than it takes in as fast): the
    /// markers' answers time it right, so a restore to just after the burst has every write of it.
    @Test func aBurstThatArrivesLateIsTimedByTheMarkers() async throws {
        try await Self.withNode { store, node in
            let archiving = try Archiving.start(node, store: store.store)
            _ = try await archiving.waitForBase()
            // The archiver must be behind when a burst ends, which depends on how busy the machine is: a larger
            // burst follows one it kept up with (each INCR is 27 bytes of the stream).
            var count = 0
            var done = Date()
            var behind = false
            for burstSize in [400_000, 800_000, 1_600_000] where !behind {
                let start = await archiving.archiver.status.receivedOffset ?? 0
                let burst = String(repeating: "*2\r\n$4\r\nINCR\r\n$7\r\ncounter\r\n", count: burstSize)
                let piped = try await node.redis.cli(["--pipe"], input: Data(burst.utf8))
                #expect(piped.status == 0, "\(piped.stderrText)")
                done = Date()
                count += burstSize
                let received = (await archiving.archiver.status.receivedOffset ?? 0) - start
                behind = received < Int64(burstSize) * 20
            }
            _ = try await archiving.storedNow(node)
            await archiving.stop()
            _ = try await node.redis.cli(["FLUSHALL"])

            let report = try await node.restore(store: store.store).run(
                try Self.request(node, to: done.addingTimeInterval(3)))
            #expect(
                try await node.redis.cli(["GET", "counter"]).stdoutText.contains(String(count)), "\(report.notes)")
            // The point of the test: the archiver was behind when the (last) burst ended.
            #expect(behind, "the archiver kept up with every burst")
        }
    }

    /// Redis busy for longer than a marker waits for its answer (the marker connection times out), or a script that
    /// makes it answer BUSY, does not end the markers: they go on, on a new connection, and the archive keeps
    /// reaching the present.
    @Test(arguments: [
        ["DEBUG", "SLEEP", "11"],
        ["EVAL", "local s = redis.call('TIME')[1] while redis.call('TIME')[1] - s < 7 do end return 1", "0"],
    ])
    func markersGoOnAfterRedisWasBusy(busy: [String]) async throws {
        try await Self.withNode { store, node in
            let archiving = try Archiving.start(node, store: store.store)
            _ = try await archiving.waitForBase()
            _ = try await archiving.storedNow(node)
            let answer = try await node.redis.cli(busy)
            #expect(answer.status == 0, "\(answer.stderrText)")
            _ = try await node.redis.cli(["SET", "after", "the busy time"])
            let moment = try await archiving.storedNow(node)
            let until = await archiving.archiver.status.storedUntil
            await archiving.stop()
            #expect(until.map { $0 >= moment } == true, "\(String(describing: until)) \(moment)")
        }
    }

    /// A window ends when the link does: the archiver trying to reconnect while Redis is down adds no time to it.
    @Test func aWindowEndsWhenRedisStops() async throws {
        try await Self.withNode { store, node in
            let archiving = try Archiving.start(node, store: store.store)
            let first = try await archiving.waitForBase()
            _ = try await node.redis.cli(["SET", "before", "the stop"])
            _ = try await archiving.storedNow(node)
            try await node.redis.stop()
            let stopped = Date()
            try await Task.sleep(for: .seconds(4))
            try await node.redis.start()
            for _ in 0..<300 where await archiving.archiver.status.base == first {
                try await Task.sleep(for: .milliseconds(50))
            }
            _ = try await archiving.storedNow(node)
            await archiving.stop()
            let windows = PointInTimeArchive.windows(
                try await PointInTimeArchive(store: store.store, keys: .none).segments(
                    of: try node.settings.identity))
            #expect(windows.count == 2, "\(windows)")
            #expect(windows.first.map { $0.to <= stopped.addingTimeInterval(1) } == true, "\(windows) \(stopped)")
            #expect(windows.last.map { $0.from > stopped.addingTimeInterval(3.9) } == true, "\(windows) \(stopped)")
        }
    }

    /// Keys whose time ran out since the moment are gone, as after any restore; commands that changed them before it
    /// apply to them as they did (they do not come back without their TTL), base keys included.
    @Test func expiriesBehaveAsTheyDid() async throws {
        // TTLs of 20 s: long enough for the set-up on a loaded machine (8 s was not, in a fresh-clone run).
        try await Self.withNode { store, node in
            let set = ContinuousClock.now
            // In the base, with a short TTL.
            try await Self.send(node, [["SET", "base:short", "5", "PX", "20000"]])
            let archiving = try Archiving.start(node, store: store.store)
            _ = try await archiving.waitForBase()
            try await Self.send(
                node,
                [
                    ["INCR", "base:short"], ["SET", "short", "10", "PX", "20000"], ["INCR", "short"],
                    ["INCR", "short"], ["HSET", "hash", "f", "1"], ["PEXPIRE", "hash", "20000"],
                    ["HINCRBY", "hash", "f", "5"], ["SET", "long", "10", "EX", "7200"], ["INCR", "long"],
                ])
            try await archiving.received(node)
            let moment = Date()
            // The keys that had a TTL then (a slow machine may have let base:short run out before the base: the
            // INCR then made it a key of its own, without one, as on any Redis).
            var expiring: [String] = []
            for key in ["base:short", "short", "hash"] {
                let ttl = try await node.redis.cli(["PTTL", key]).stdoutText.trimmingCharacters(
                    in: .whitespacesAndNewlines)
                if (Int(ttl) ?? -1) > 0 { expiring.append(key) }
            }
            #expect(expiring.contains("short") && expiring.contains("hash"), "\(expiring)")
            try await archiving.stored(past: moment)
            await archiving.stop()
            _ = try await node.redis.cli(["FLUSHALL"])
            try await Task.sleep(until: set + .milliseconds(20500))

            _ = try await node.restore(store: store.store).run(try Self.request(node, to: moment))
            for key in expiring {
                #expect(try await node.redis.cli(["EXISTS", key]).stdoutText.contains("0"), "\(key) came back")
            }
            #expect(try await node.redis.cli(["GET", "long"]).stdoutText.contains("11"))
            let ttl = Int(
                try await node.redis.cli(["TTL", "long"]).stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
            )
            #expect((ttl ?? 0) > 7000, "the TTL is kept")
        }
    }

    /// A restart of the archiver within Redis's backlog continues the stream (the offsets have no gap, and a restore
    /// after the restart replays across it); one after the backlog moved on starts a new base, and a moment in the
    /// gap is refused before the node is touched, naming the windows.
    @Test func restartsContinueInsideTheBacklogAndStartANewBaseOutsideIt() async throws {
        try await Self.withNode(extra: ["repl-backlog-size 16kb"]) { store, node in
            var archiving = try Archiving.start(node, store: store.store)
            let base = try await archiving.waitForBase()
            _ = try await node.redis.cli(["SET", "first", "1"])
            _ = try await archiving.storedNow(node)
            await archiving.stop()
            _ = try await node.redis.cli(["SET", "while", "stopped"])

            archiving = try Archiving.start(node, store: store.store)
            _ = try await node.redis.cli(["SET", "second", "2"])
            let afterRestart = try await archiving.storedNow(node)
            let stateAfterRestart = try await node.content()
            #expect(await archiving.archiver.status.base == nil, "continued: no new base")
            await archiving.stop()

            let archive = PointInTimeArchive(store: store.store, keys: .none)
            let segments = try await archive.segments(of: try node.settings.identity)
            let windows = PointInTimeArchive.windows(segments)
            #expect(windows.count == 2, "a hole in time while the archiver was away: \(windows)")
            #expect(windows.count == 2 && windows[0].endOffset == windows[1].startOffset, "no gap in offsets")

            // Far more writes than the 16 KiB backlog holds, while the archiver is away.
            try await RedisDataset.populateRandom(node.redis, count: 200, size: 1024)
            let gap = Date()
            try await Task.sleep(for: .milliseconds(50))
            archiving = try Archiving.start(node, store: store.store)
            let newBase = try await archiving.waitForBase()
            #expect(newBase != base)
            _ = try await archiving.storedNow(node)
            await archiving.stop()

            let restore = try node.restore(store: store.store)
            let report = try await restore.run(try Self.request(node, to: afterRestart))
            #expect(report.source.id.text == base)
            #expect(try await node.content() == stateAfterRestart)

            let events = node.redis.events()
            let error = await expectFailure(.invalidRequest) {
                _ = try await restore.run(try Self.request(node, to: gap))
            }
            #expect(
                error?.description.contains("outside the archived stream") == true, "\(String(describing: error))")
            #expect(error?.description.contains(" to ") == true, "names the windows")
            #expect(node.redis.events() == events, "nothing was touched")
            #expect(try await node.content() == stateAfterRestart)
        }
    }

    /// Backups record where they are in the stream (BGSAVE with INFO replication in the same write) and serve as
    /// bases; prune keeps the segments a kept base needs and removes the rest; verify --all reads every segment.
    @Test func backupsAreBasesAndPruneAndVerifyCoverTheArchive() async throws {
        try await Self.withNode { store, node in
            let archiving = try Archiving.start(node, store: store.store)
            let first = try await archiving.waitForBase()
            _ = try await node.redis.cli(["SET", "phase", "before the backup"])
            let beforeBackup = try await archiving.storedNow(node)
            try await Task.sleep(for: .seconds(1))  // a snapshot id a second after the base's
            let manifest = try await node.backup(store: store.store)
            #expect(manifest.method == .file && manifest.replication != nil, "BGSAVE records its position")
            _ = try await node.redis.cli(["SET", "phase", "after the backup"])
            let afterBackup = try await archiving.storedNow(node)
            let stateAfter = try await node.content()
            await archiving.stop()

            let identity = try node.settings.identity
            let archive = PointInTimeArchive(store: store.store, keys: .none)
            let before = try await archive.segments(of: identity)
            let decisions = try await SnapshotPruner(store: store.store, logger: Engine.logger).run(
                identity, policy: RetentionPolicy(last: 1), dryRun: false)
            #expect(decisions.contains { $0.snapshot == first && !$0.keep })
            let pruned = try #require(
                decisions.first { $0.kind == "archive" },
                "\(before.map(\.name)) \(String(describing: manifest.replication))")
            let after = try await archive.segments(of: identity)
            #expect(
                !after.isEmpty && after.count < before.count,
                "\(pruned) \(before.map(\.name)) \(String(describing: manifest.replication))")
            #expect(after.allSatisfy { $0.name.endOffset >= manifest.replication!.offset })

            let restore = try node.restore(store: store.store)
            let report = try await restore.run(try Self.request(node, to: afterBackup))
            #expect(report.source.id == manifest.snapshotID, "the backup is the base")
            #expect(try await node.content() == stateAfter)
            let error = await expectFailure(.invalidRequest) {
                _ = try await restore.run(try Self.request(node, to: beforeBackup))
            }
            #expect(
                error?.description.contains("outside the archived stream") == true
                    || error?.description.contains("no snapshot") == true, "\(String(describing: error))")

            let verifier = SnapshotVerifier(store: store.store, logger: Engine.logger)
            let intact = try await verifier.run(identity, request: VerificationRequest(all: true))
            let archived = try #require(intact.first { $0.snapshot == "archive" })
            #expect(archived.ok && archived.files == after.count && archived.bytes > 0)
            let path = try #require(store.folder).path + "/" + after[0].key
            var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            bytes[bytes.count - 3] ^= 0xFF
            try bytes.write(to: URL(fileURLWithPath: path))
            let damaged = try await verifier.run(identity, request: VerificationRequest(all: true))
            #expect(damaged.first { $0.snapshot == "archive" }?.problems.first?.contains(after[0].key) == true)
        }
    }

    /// The archiver takes no base while a restore holds the node (its half-restored data would become the newest
    /// snapshot): it waits, and takes one once the node is free.
    @Test func noBaseIsTakenWhileARestoreHoldsTheNode() async throws {
        try await Self.withNode { store, node in
            let lock = try node.restore(store: store.store).acquireLock("restore")
            let archiving = try Archiving.start(node, store: store.store)
            var waiting = await archiving.archiver.status
            for _ in 0..<400 where waiting.lastError == nil {
                try await Task.sleep(for: .milliseconds(50))
                waiting = await archiving.archiver.status
            }
            #expect(waiting.base == nil && waiting.state == "waiting", "\(waiting)")
            #expect(waiting.lastError?.contains("restore") == true, "\(waiting)")
            #expect(try await store.store.listAll(prefix: "").isEmpty)
            lock.release()
            _ = try await archiving.waitForBase()
            await archiving.stop()
        }
    }

    /// Every marker records Redis's key counts at its place in the stream; the replay checks the data against the
    /// last one before the moment: an archive whose counts disagree with what the replay produced fails the restore,
    /// which rolls back.
    @Test func theReplayIsCheckedAgainstTheKeyCountsAtTheLastMarker() async throws {
        try await Self.withNode { store, node in
            let archiving = try Archiving.start(node, store: store.store)
            _ = try await archiving.waitForBase()
            try await node.populate("counted")
            try await Task.sleep(for: .milliseconds(600))  // markers after the writes
            let moment = try await archiving.storedNow(node)
            await archiving.stop()
            let restore = try node.restore(store: store.store)
            let report = try await restore.run(try Self.request(node, to: moment))
            #expect(report.notes.contains { $0.contains("key counts Redis had at offset") }, "\(report.notes)")

            // The same archive, its recorded counts one key off.
            let archive = PointInTimeArchive(store: store.store, keys: .none)
            for stored in try await archive.segments(of: try node.settings.identity) {
                var segment = try await archive.read(stored, node: try node.settings.identity)
                guard !segment.checkpoints.isEmpty else { continue }
                segment.checkpoints = segment.checkpoints.map { checkpoint in
                    var changed = checkpoint
                    changed.keyspace["db0"]?.keys += 1
                    return changed
                }
                try await store.store.put(
                    stored.key, bytes: try await segment.stored(node: try node.settings.identity, key: nil))
            }
            try await node.scribble("before the second restore")
            let before = try await node.content()
            var saving = try Self.request(node, to: moment)
            saving.skipSafetySave = false  // the set-aside files hold the scribbled data, which comes back
            let error = await expectFailure(.snapshot) { _ = try await restore.run(saving) }
            #expect(error?.description.contains("Redis held") == true, "\(String(describing: error))")
            #expect(error?.description.contains("Rolled back") == true, "\(String(describing: error))")
            #expect(try await node.content() == before)
        }
    }

    /// A segment altered or cut short in the store fails the restore before the node is touched.
    @Test(arguments: ["altered", "truncated"]) func aDamagedSegmentIsCaughtBeforeTheNodeIsTouched(
        damage: String
    ) async throws {
        try await Self.withNode { store, node in
            let archiving = try Archiving.start(node, store: store.store)
            _ = try await archiving.waitForBase()
            try await node.populate("archived")
            let moment = try await archiving.storedNow(node)
            await archiving.stop()
            try await node.scribble("later")
            let before = try await node.content()

            let archive = PointInTimeArchive(store: store.store, keys: .none)
            let biggest = try #require(
                try await archive.segments(of: try node.settings.identity).max { $0.size < $1.size })
            let path = try #require(store.folder).path + "/" + biggest.key
            var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            if damage == "altered" { bytes[bytes.count / 2] ^= 0x5A } else { bytes = bytes.prefix(bytes.count / 2) }
            try bytes.write(to: URL(fileURLWithPath: path))

            let events = node.redis.events()
            let error = await expectFailure(.snapshot) {
                _ = try await node.restore(store: store.store).run(try Self.request(node, to: moment))
            }
            #expect(error?.description.contains("damaged") == true, "\(String(describing: error))")
            #expect(node.redis.events() == events, "Redis was neither stopped nor started")
            #expect(try await node.content() == before)
            #expect(!node.hasJournal)
        }
    }
}

/// The segment format and the windows, without Redis.
@Suite struct StreamSegmentTests {
    static let id = String(repeating: "ab", count: 20)
    static let node = NodeIdentity(cluster: "c", datacenter: "dc1", rack: "r1", tokens: "0")

    static func segment(_ start: Int64, _ commands: [[String]], opened: Int64, closed: Int64) -> StreamSegment {
        var offset = start
        var records: [StreamSegment.Record] = []
        for (index, command) in commands.enumerated() {
            var raw = ByteBuffer()
            RESPEncoder.encode(command, into: &raw)
            offset += Int64(raw.readableBytes)
            records.append(.init(offset: offset, time: opened + Int64(index), command: raw))
        }
        return StreamSegment(
            name: .init(replicationID: id, startOffset: start, endOffset: offset, openedAt: opened, closedAt: closed),
            startDB: 2, records: records)
    }

    @Test(arguments: [false, true]) func aSegmentReadsBackAndAnyChangeIsCaught(encrypted: Bool) async throws {
        let folder = try TemporaryDirectory(prefix: "segment-key")
        defer { folder.remove() }
        try Data((0..<32).map { UInt8($0) }).write(to: URL(fileURLWithPath: folder.file("key")))
        chmod(folder.file("key"), 0o600)
        let keys = encrypted ? SnapshotKeyring(.init(keyFile: folder.file("key"))) : SnapshotKeyring.none
        let segment = Self.segment(
            100, [["SET", "a", "1"], ["SELECT", "3"], ["INCR", "n"]], opened: 5000, closed: 6000)
        let stored = try await segment.stored(node: Self.node, key: try keys.current())
        let read = try await StreamSegment.read(
            stored, name: segment.name, encrypted: encrypted, node: Self.node, keys: keys)
        #expect(read == segment)
        for position in [0, stored.readableBytes / 2, stored.readableBytes - 1] {
            var altered = stored
            altered.setInteger(altered.getInteger(at: position, as: UInt8.self)! ^ 1, at: position)
            await #expect(throws: DynokeeperError.self) {
                _ = try await StreamSegment.read(
                    altered, name: segment.name, encrypted: encrypted, node: Self.node, keys: keys)
            }
        }
        // Another segment's name (a renamed object) is refused too.
        var other = segment.name
        other.closedAt += 1
        await #expect(throws: DynokeeperError.self) {
            _ = try await StreamSegment.read(stored, name: other, encrypted: encrypted, node: Self.node, keys: keys)
        }
    }

    @Test func namesAndWindows() throws {
        func stored(_ start: Int64, _ end: Int64, _ opened: Int64, _ closed: Int64) -> PointInTimeArchive.StoredSegment
        {
            let name = StreamSegment.Name(
                replicationID: Self.id, startOffset: start, endOffset: end, openedAt: opened, closedAt: closed)
            #expect(StreamSegment.Name(replicationID: Self.id, objectName: name.objectName) == name)
            return .init(
                name: name, key: StreamSegment.key(Self.node, name, encrypted: false), size: 1, encrypted: false)
        }
        // Contiguous, an empty one, a hole in time (continued), then a gap in offsets (a new stream).
        let windows = PointInTimeArchive.windows([
            stored(0, 10, 1000, 2000), stored(10, 10, 2000, 3000), stored(10, 20, 3000, 4000),
            stored(20, 30, 9000, 10000), stored(50, 60, 12000, 13000), stored(10, 20, 3000, 4000),
        ])
        #expect(windows.map(\.startOffset) == [0, 20, 50])
        #expect(windows.map(\.endOffset) == [20, 30, 60])
        #expect(windows.map { Int64($0.from.timeIntervalSince1970 * 1000) } == [1000, 9000, 12000])
        #expect(windows.first?.segments == 3)
        #expect(StreamSegment.Name(replicationID: "not-an-id", objectName: stored(0, 1, 2, 3).name.objectName) == nil)
        #expect(StreamSegment.Name(replicationID: Self.id, objectName: "manifest.json") == nil)
    }

    /// The API's JSON keeps the milliseconds of a moment that has them, and writes whole seconds as ever.
    @Test func jsonKeepsMilliseconds() throws {
        struct Moment: Codable, Equatable { var at: Date }
        let precise = Moment(at: Date(timeIntervalSince1970: 1_795_183_387.25))
        let whole = Moment(at: Date(timeIntervalSince1970: 1_795_183_387))
        // 07.567 as a double is 07.566999…: still .567.
        #expect(
            try APIJSON.line(Moment(at: try RestorePoint.parse("2026-11-20T14:03:07.567Z", fractions: true))).contains(
                ".567Z"))
        #expect(try APIJSON.line(Moment(at: Date(timeIntervalSince1970: 1_795_183_387.005))).contains("07.005Z"))
        #expect(try APIJSON.line(precise) == #"{"at":"2026-11-20T14:03:07.250Z"}"#)
        #expect(try APIJSON.line(whole) == #"{"at":"2026-11-20T14:03:07Z"}"#)
        for value in [precise, whole] {
            #expect(try APIJSON.decoder.decode(Moment.self, from: Data(try APIJSON.line(value).utf8)) == value)
        }
    }

    @Test func momentsTakeFractionsOfASecond() throws {
        let moment = try RestorePoint.parse("2026-11-20T14:03:07.250Z", fractions: true)
        #expect(abs(moment.timeIntervalSince1970 - 1_795_183_387.25) < 0.0005)
        #expect(throws: ConfigurationError.self) { try RestorePoint.parse("2026-11-20T14:03:07.250Z") }
        #expect(throws: ConfigurationError.self) { try RestorePoint.parse("2026-11-20T14:03.5Z", fractions: true) }
        // A moment, not a day.
        #expect(throws: ConfigurationError.self) { try RestorePoint.parse("2026-11-20", fractions: true) }
        #expect(throws: ConfigurationError.self) { try RestorePoint.parse("20261120", fractions: true) }
    }
}
