import DynokeeperConfiguration
import DynokeeperEngine
import DynokeeperTestSupport
import Foundation
import NIOCore
import ObjectStorage
import Testing

/// Restores into real redis-server processes that the restore stops and starts through `redis.stop` and
/// `redis.start`, with nutcracker standing in for Dynomite.
@Suite(.tags(.integration)) struct NodeRestoreTests {
    static func request(
        _ node: RestoreNode, date: Date? = nil, sourceCluster: String? = nil
    ) throws -> NodeRestore.Options {
        var source = try node.settings.identity
        if let sourceCluster { source.cluster = sourceCluster }
        return NodeRestore.Options(request: SnapshotSelector.Request(source: source, date: date))
    }

    @Test(arguments: StoreKind.allCases)
    func rdbRestoreBringsEveryKeyBackInTheRightOrder(kind: StoreKind) async throws {
        try await withResource(TestStore.make(kind)) { store in
            try await withResource(RestoreNode.make(withDynomite: true)) { node in
                try await node.populate("v1")
                let manifest = try await node.backup(store: store.store)
                let before = try await node.content()
                try await node.scribble("after-backup")
                #expect(try await node.content() != before)

                let report = try await node.restore(store: store.store).run(Self.request(node))
                #expect(report.source.id == manifest.snapshotID)
                #expect(try await node.content() == before)
                #expect(node.dynomite?.isRunning == true)
                #expect(
                    node.redis.events().suffix(4) == ["dynomite-stop", "redis-stop", "redis-start", "dynomite-start"])
                #expect(report.steps.map(\.name).contains("start Redis and load"))
                // Nothing left behind.
                #expect(!FileManager.default.fileExists(atPath: node.redis.dataPath + "/.dynokeeper-restore"))
            }
        }
    }

    @Test(arguments: StoreKind.allCases)
    func aofRestoreBringsEveryKeyBack(kind: StoreKind) async throws {
        try await withResource(TestStore.make(kind)) { store in
            try await withResource(RestoreNode.make(appendOnly: true)) { node in
                try await node.populate("aof")
                let manifest = try await node.backup(store: store.store, type: .aof)
                #expect(manifest.type == .aof)
                let before = try await node.content()
                try await node.scribble("later")
                _ = try await node.restore(store: store.store).run(Self.request(node))
                #expect(try await node.content() == before)
                let info = try await node.redis.cli(["INFO", "persistence"]).stdoutText
                #expect(info.contains("aof_enabled:1"))
            }
        }
    }

    @Test func rdbSnapshotIntoARedisThatLoadsItsAOF() async throws {
        try await withResource(TestStore.make(.local)) { store in
            try await withResource(RestoreNode.make()) { source in
                try await withResource(RestoreNode.make(appendOnly: true)) { target in
                    try await source.populate("rdb-into-aof")
                    _ = try await source.backup(store: store.store)
                    let expected = try await source.content()
                    try await target.populate("target's own")
                    _ = try await target.restore(store: store.store).run(Self.request(target))
                    #expect(try await target.content() == expected)
                    // The data survives a restart: it is in the AOF Redis loads.
                    await target.redis.stop()
                    try await target.redis.start()
                    #expect(try await target.content() == expected)
                }
            }
        }
    }

    @Test func dateChoosesTheNewestSnapshotAtOrBeforeIt() async throws {
        try await withResource(TestStore.make(.local)) { store in
            try await withResource(RestoreNode.make()) { node in
                let days = ["2026-11-01T02:00:00Z", "2026-11-02T02:00:00Z", "2026-11-03T02:00:00Z"].map {
                    ISO8601DateFormatter().date(from: $0)!
                }
                var contents: [RedisContent] = []
                for (index, day) in days.enumerated() {
                    try await node.scribble("day\(index)")
                    try await node.populate("day\(index)")
                    do {
                        contents.append(try await node.content())
                    } catch {
                        Issue.record(
                            "reading the content failed: \(error); port \(node.port); redis log: \(node.redis.log().suffix(3000))"
                        )
                        throw error
                    }
                    _ = try await node.backup(store: store.store, id: SnapshotID(date: day))
                }
                _ = try await node.restore(store: store.store).run(
                    Self.request(node, date: try RestorePoint.parse("2026-11-02T23:00")))
                #expect(try await node.content() == contents[1])
                _ = try await node.restore(store: store.store).run(
                    Self.request(node, date: try RestorePoint.parse("2026-11-01")))
                #expect(try await node.content() == contents[0])

                let error = await expectFailure(.snapshot) {
                    _ = try await node.restore(store: store.store).run(
                        Self.request(node, date: try RestorePoint.parse("2026-10-31")))
                }
                #expect(
                    error?.description.contains("there are: 20261103T020000Z, 20261102T020000Z, 20261101T020000Z")
                        == true)
                #expect(try await node.content() == contents[0])
            }
        }
    }

    @Test(arguments: StoreKind.allCases)
    func anotherClustersSnapshotRefreshesThisNode(kind: StoreKind) async throws {
        try await withResource(TestStore.make(kind)) { store in
            try await withResource(RestoreNode.make(cluster: "production")) { production in
                try await withResource(RestoreNode.make(cluster: "test-copy")) { test in
                    try await production.populate("prod-data")
                    _ = try await production.backup(store: store.store)
                    let expected = try await production.content()
                    try await test.populate("test-data")
                    let report = try await test.restore(store: store.store).run(
                        Self.request(test, sourceCluster: "production"))
                    #expect(report.source.node.cluster == "production")
                    #expect(try await test.content() == expected)
                }
            }
        }
    }

    @Test(arguments: StoreKind.allCases)
    func aCorruptObjectIsCaughtBeforeTheNodeIsTouched(kind: StoreKind) async throws {
        try await withResource(TestStore.make(kind)) { store in
            try await withResource(RestoreNode.make(withDynomite: true)) { node in
                try await node.populate("good")
                let manifest = try await node.backup(store: store.store)
                // The damaged copy goes to keys never written before, as a newer snapshot (overwriting an object in place
                // could be read back stale from SeaweedFS's S3 gateway under load, and the test is about dynokeeper).
                let original =
                    SnapshotLayout.snapshotPrefix(manifest.node, manifest.snapshotID) + manifest.files[0].object
                var bytes = try await store.store.getBytes(original)
                let offset = bytes.readableBytes / 2
                bytes.setInteger(bytes.getInteger(at: offset, as: UInt8.self)! ^ 0x01, at: offset)
                var damaged = manifest
                damaged.snapshotID = SnapshotID(date: manifest.snapshotID.date.addingTimeInterval(60))
                let prefix = SnapshotLayout.snapshotPrefix(damaged.node, damaged.snapshotID)
                try await store.store.put(prefix + damaged.files[0].object, bytes: bytes)
                try await store.store.put(
                    prefix + SnapshotLayout.manifestName,
                    bytes: ByteBuffer(bytes: try SnapshotManifest.encoder.encode(damaged)))

                try await node.scribble("current")
                let current = try await node.content()
                let pid = node.redis.pid
                let eventsBefore = node.redis.events()
                let error = await expectFailure(.snapshot) {
                    _ = try await node.restore(store: store.store).run(Self.request(node))
                }
                #expect(error?.description.contains("is damaged") == true, "\(String(describing: error))")
                #expect(try await node.content() == current)
                #expect(node.redis.pid == pid)
                #expect(node.redis.events() == eventsBefore)
                #expect(node.dynomite?.isRunning == true)
                #expect(!FileManager.default.fileExists(atPath: node.redis.dataPath + "/.dynokeeper-restore"))
            }
        }
    }

    @Test func aFailingRedisStartRollsBack() async throws {
        try await withResource(TestStore.make(.local)) { store in
            try await withResource(
                RestoreNode.make(withDynomite: true) { redis in
                    // Fails once (the restore's start), then works (the rollback's start).
                    "if [ -f \(redis.directory.file("fail-once")) ]; then rm \(redis.directory.file("fail-once")); echo refusing >&2; exit 3; fi; \(redis.startCommand)"
                }
            ) { node in
                try await node.populate("snapshot")
                _ = try await node.backup(store: store.store)
                try await node.scribble("current")
                try await node.populate("current")
                let current = try await node.content()
                try Data().write(to: URL(fileURLWithPath: node.redis.directory.file("fail-once")))

                let error = await expectFailure(.snapshot) {
                    _ = try await node.restore(store: store.store).run(Self.request(node))
                }
                let message = error?.description ?? ""
                #expect(message.hasPrefix("restore failed at start Redis: redis.start"), "\(message)")
                #expect(message.contains("exited with status 3"))
                #expect(
                    message.contains(
                        "Rolled back: the previous data is back in place and Redis and Dynomite run again."))
                #expect(try await node.content() == current)
                #expect(node.dynomite?.isRunning == true)
                #expect(!FileManager.default.fileExists(atPath: node.redis.dataPath + "/.dynokeeper-restore"))
            }
        }
    }

    @Test func restoresAreRefusedUnlessEnabled() async throws {
        try await withResource(TestStore.make(.local)) { store in
            try await withResource(RestoreNode.make(restoreEnabled: false)) { node in
                _ = try await node.backup(store: store.store)
                let error = await #expect(throws: DynokeeperError.self) {
                    _ = try await node.restore(store: store.store).run(Self.request(node))
                }
                #expect(error?.code == .restoresDisabled)
                #expect(error?.message.contains("restore.enabled") == true)
                #expect(error?.message.contains("dynomitemanager.dyno.backup.restore.enabled") == true)
            }
        }
    }

    @Test func dryRunDescribesAndChangesNothing() async throws {
        try await withResource(TestStore.make(.local)) { store in
            try await withResource(RestoreNode.make(withDynomite: true)) { node in
                try await node.populate("snap")
                let manifest = try await node.backup(store: store.store)
                try await node.scribble("now")
                let now = try await node.content()
                let events = node.redis.events()
                var options = try Self.request(node)
                options.dryRun = true
                let report = try await node.restore(store: store.store).run(options)
                #expect(report.dryRun)
                #expect(report.source.id == manifest.snapshotID)
                let steps = report.steps.map(\.name)
                #expect(steps.first?.hasPrefix("fetch and verify 1 file(s)") == true)
                #expect(steps.contains { $0.hasPrefix("stop Dynomite") })
                #expect(steps.contains { $0.hasPrefix("put dump.rdb in place") })
                // Commands are named by their key: their text may hold a password, and the plan goes to the API.
                #expect(
                    steps.contains("start Redis (redis.start) and wait until a new Redis process has loaded its data"))
                let commands = [node.configuration.redis.start, node.configuration.redis.stop].compactMap { $0 }
                #expect(
                    !commands.isEmpty && !steps.contains { step in commands.contains { step.contains($0) } }, "\(steps)"
                )
                #expect(try await node.content() == now)
                #expect(node.redis.events() == events)
                #expect(!FileManager.default.fileExists(atPath: node.redis.dataPath + "/.dynokeeper-restore"))
            }
        }
    }

    @Test func dynomiteManagerObjectsAreFoundAndChecked() async throws {
        try await withResource(TestStore.make(.local)) { store in
            try await withResource(RestoreNode.make()) { node in
                try await node.populate("from-dynomite-manager")
                _ = try await node.redis.cli(["SAVE"])
                let expected = try await node.content()
                let rdb = try Data(contentsOf: URL(fileURLWithPath: node.redis.dataPath + "/dump.rdb"))
                // Dynomite-manager's layout: <dc>/<rack>/<token>/<epoch ms of the day's start>.
                let day = ISO8601DateFormatter().date(from: "2026-11-20T00:00:00Z")!
                try await store.store.put(
                    "dc1/rack1/0/\(Int64(day.timeIntervalSince1970 * 1000))", bytes: ByteBuffer(bytes: rdb))
                // Another object that reads as the same moment (leading zeros): not Dynomite-manager's, left out.
                try await store.store.put(
                    "dc1/rack1/0/0000\(Int64(day.timeIntervalSince1970 * 1000))", bytes: ByteBuffer(string: "xx"))
                try await node.scribble("later")

                let report = try await node.restore(store: store.store).run(
                    Self.request(node, date: try RestorePoint.parse("20261121")))
                #expect(report.source.format == .dynomiteManager)
                #expect(report.notes.first?.contains("Dynomite-manager") == true)
                #expect(try await node.content() == expected)

                // Something that is not an RDB is refused before anything is touched.
                let next = ISO8601DateFormatter().date(from: "2026-11-22T00:00:00Z")!
                try await store.store.put(
                    "dc1/rack1/0/\(Int64(next.timeIntervalSince1970 * 1000))",
                    bytes: ByteBuffer(string: "<html>not a backup</html>"))
                let error = await expectFailure(.snapshot) {
                    _ = try await node.restore(store: store.store).run(Self.request(node))
                }
                #expect(error?.description.contains("does not look like an RDB file") == true)
                #expect(try await node.content() == expected)
            }
        }
    }

    /// `backup.format: dynomite-manager` also writes the day's object as Dynomite-manager did (the RDB, uncompressed,
    /// under `<dc>/<rack>/<token>/<epoch ms>` in S3), which a Dynomite-manager-format restore brings back; `auto`
    /// takes the newest of either layout.
    @Test func backupsCanAlsoWriteDynomiteManagersLayoutAndAutoTakesTheNewest() async throws {
        try await withResource(TestStore.make(.s3)) { store in
            try await withResource(RestoreNode.make(moreYAML: "backup:\n  format: dynomite-manager")) { node in
                try await node.populate("both-layouts")
                let manifest = try await node.backup(store: store.store)
                let expected = try await node.content()
                let key = SnapshotLayout.dynomiteManagerKey(try node.settings.identity, day: manifest.startedAt)
                let object = try await store.store.getBytes(key)
                let rdb = try Data(contentsOf: URL(fileURLWithPath: node.redis.dataPath + "/dump.rdb"))
                #expect(Data(object.readableBytesView) == rdb, "the RDB itself, uncompressed")
                try await node.scribble("later")

                var dynomiteManager = try Self.request(node)
                dynomiteManager.request.format = .dynomiteManager
                let report = try await node.restore(store: store.store).run(dynomiteManager)
                #expect(report.source.format == .dynomiteManager)
                #expect(try await node.content() == expected)

                // auto: dynokeeper's snapshot is newer than the day's midnight object name: it is taken.
                try await node.scribble("again")
                let auto = try await node.restore(store: store.store).run(Self.request(node))
                #expect(auto.source.format == .dynokeeper && auto.source.id == manifest.snapshotID)
                #expect(try await node.content() == expected)
            }
        }
        // Encrypted snapshots and a copy in clear exclude each other; Dynomite-manager's layout holds one RDB.
        for yaml in [
            "backup:\n  format: dynomite-manager\nencryption:\n  key_file: /k\n",
            "backup:\n  format: dynomite-manager\n  type: aof\n",
        ] {
            #expect(throws: ConfigurationError.self) { try DynokeeperConfiguration.parse(yaml: yaml, path: "x") }
        }
    }

    /// In auto, a stray object in Dynomite-manager's layout newer than dynokeeper's snapshot does not fail the
    /// restore: dynokeeper's snapshot is restored, with a warning.
    @Test func autoFallsBackToDynokeepersSnapshotOverAStrayObject() async throws {
        try await withResource(TestStore.make(.local)) { store in
            try await withResource(RestoreNode.make()) { node in
                try await node.populate("dynokeeper")
                let manifest = try await node.backup(store: store.store)
                let expected = try await node.content()
                let later = manifest.startedAt.addingTimeInterval(86_400 * 2)
                try await store.store.put(
                    SnapshotLayout.dynomiteManagerKey(try node.settings.identity, day: later),
                    bytes: ByteBuffer(string: "<html>not a backup</html>"))
                try await node.scribble("later")
                let report = try await node.restore(store: store.store).run(Self.request(node))
                #expect(report.source.id == manifest.snapshotID && report.source.format == .dynokeeper)
                #expect(try await node.content() == expected)
            }
        }
    }

    /// Dynomite-manager named each day's object by its JVM's local midnight: with restore.timezone, a day picks that
    /// day's object, not the next day's (whose midnight, east of UTC, falls on the day before in UTC).
    @Test func dynomiteManagerDaysFollowTheConfiguredTimeZone() async throws {
        try await withResource(TestStore.make(.local)) { store in
            let tokyo = try #require(TimeZone(identifier: "Asia/Tokyo"))
            let node = NodeIdentity(cluster: "c", datacenter: "dc1", rack: "rack1", tokens: "0")
            let iso = ISO8601DateFormatter()
            for day in ["2026-11-20T00:00:00+09:00", "2026-11-21T00:00:00+09:00"] {
                let key = SnapshotLayout.dynomiteManagerKey(node, day: iso.date(from: day)!, timeZone: tokyo)
                try await store.store.put(key, bytes: ByteBuffer(string: "REDIS0010 day \(day)"))
            }
            let selector = SnapshotSelector(store: store.store, logger: Engine.logger)
            func chosen(_ zone: TimeZone) async throws -> Date {
                var request = SnapshotSelector.Request(
                    source: node, date: try RestorePoint.parse("20261120", timeZone: zone), format: .dynomiteManager)
                request.dynomiteManagerTimeZone = zone
                return try await selector.select(request).id.date
            }
            #expect(try await chosen(tokyo) == iso.date(from: "2026-11-20T00:00:00+09:00"))
            // Read in UTC, the 21st's Tokyo midnight (15:00 UTC on the 20th) would be taken for the 20th: refused,
            // naming the zone whose midnights the names are.
            let misread = await expectFailure(.snapshot) { _ = try await chosen(TimeZone(identifier: "UTC")!) }
            #expect(misread?.description.contains("is not named by a midnight in restore.timezone") == true)
            #expect(misread?.description.contains("(it is the midnight of UTC+09:00)") == true, "\(misread!)")
            let west = await expectFailure(.snapshot) {
                _ = try await chosen(TimeZone(identifier: "America/Los_Angeles")!)
            }
            #expect(west?.description.contains("UTC+09:00") == true)
        }
    }
}
