import DynokeeperConfiguration
import DynokeeperEngine
import DynokeeperTestSupport
import Foundation
import NIOCore
import ObjectStorage
import Testing

@Suite(.tags(.integration)) struct SnapshotCatalogTests {
    @Test(arguments: StoreKind.allCases)
    func onlyCompleteSnapshotsOfTheRightNodeAreListed(kind: StoreKind) async throws {
        try await withResource(RedisServer.start()) { server in
            try await withResource(TestStore.make(kind)) { store in
                let nodeA = NodeSettings.test(port: server.port, rack: "rack1", tokens: "100")
                let nodeB = NodeSettings.test(port: server.port, rack: "rack2", tokens: "200")
                let early = SnapshotID(date: Date(timeIntervalSince1970: 1_790_000_000))
                let late = SnapshotID(date: Date(timeIntervalSince1970: 1_790_086_400))
                for (node, id) in [(nodeA, early), (nodeA, late), (nodeB, early)] {
                    var options = NodeBackup.Options(type: .rdb)
                    options.snapshotID = id
                    _ = try await Engine.backup(node, store: store.store).run(options)
                }
                // An incomplete snapshot (no manifest), a damaged manifest, a manifest in the wrong folder.
                let incomplete = SnapshotLayout.snapshotPrefix(
                    nodeA.identity, SnapshotID(date: Date(timeIntervalSince1970: 1_790_200_000)))
                try await store.store.put(incomplete + "dump.rdb.zst", bytes: ByteBuffer(string: "x"))
                let damaged = SnapshotLayout.snapshotPrefix(
                    nodeA.identity, SnapshotID(date: Date(timeIntervalSince1970: 1_790_300_000)))
                let moved = SnapshotLayout.snapshotPrefix(
                    nodeB.identity, SnapshotID(date: Date(timeIntervalSince1970: 1_790_400_000)))
                let catalog = SnapshotCatalog(store: store.store, logger: Engine.logger)
                let real = try await catalog.snapshots(of: nodeA.identity)[0]
                try await store.store.put(
                    moved + "manifest.json", bytes: try await store.store.getBytes(real.prefix + "manifest.json"))

                try await store.store.put(damaged + "manifest.json", bytes: ByteBuffer(string: "{not json"))
                // A damaged manifest fails the listing rather than shortening it (a restore would pick an older snapshot).
                let error = await expectFailure(.snapshot) {
                    _ = try await catalog.snapshots(of: nodeA.identity)
                }
                #expect(
                    error?.description.contains("\(damaged)manifest.json is not a dynokeeper manifest") == true,
                    "\(String(describing: error))")
                try await store.store.delete([damaged + "manifest.json"])

                let ofA = try await catalog.snapshots(of: nodeA.identity)
                #expect(ofA.map(\.id) == [late, early])
                #expect(ofA.allSatisfy { $0.node == nodeA.identity })
                let all = try await catalog.snapshots(cluster: "test-cluster")
                #expect(
                    all.map { "\($0.id) \($0.node)" } == [
                        "\(late) dc1/rack1/100", "\(early) dc1/rack2/200", "\(early) dc1/rack1/100",
                    ])
                #expect(try await catalog.snapshots(cluster: "other-cluster").isEmpty)
            }
        }
    }

    @Test func manifestsOfAFutureFormatAreRefusedClearly() throws {
        let data = Data(#"{"format": 9}"#.utf8)
        let refused = #expect(throws: DynokeeperError.self) { _ = try SnapshotManifest.decode(data, key: "k") }
        #expect(refused?.code == .snapshot, "\(String(describing: refused))")
        do {
            _ = try SnapshotManifest.decode(data, key: "k")
        } catch {
            #expect("\(error)".contains("upgrade"))
        }
    }

    /// Whoever may write to the store writes manifests: a name that would leave the folder it is joined to (fetch,
    /// verify's drill), or a negative size or count, makes the manifest damaged.
    @Test(arguments: [
        (#""name": "dump.rdb", "object": "dump.rdb.zst""#, nil),
        (#""name": "../../evil.rdb", "object": "dump.rdb.zst""#, "is not a path inside a folder"),
        (#""name": "", "object": "dump.rdb.zst""#, "is not a path inside a folder"),
        (#""name": "/etc/cron.d/x", "object": "dump.rdb.zst""#, "is not a path inside a folder"),
        (#""name": "appendonlydir/./x", "object": "dump.rdb.zst""#, "is not a path inside a folder"),
        (#""name": "dump.rdb", "object": "../other/dump.rdb.zst""#, "is not a path inside a folder"),
        (#""name": "dump\nrdb", "object": "dump.rdb.zst""#, "is not a path inside a folder"),
    ])
    func manifestNamesMustStayInsideTheirFolder(names: String, problem: String?) throws {
        let json = """
            {"compression": {"algorithm": "zstd", "level": 1},
             "files": [{\(names), "sha256": "abc", "size": 30, "stored_size": 20}],
             "finished_at": "2026-11-24T02:00:05Z", "format": 1, "hostname": "node-1",
             "keyspace": {"db0": {"expires": 1, "keys": 3}}, "keyspace_exact": true,
             "node": {"cluster": "prod", "datacenter": "dc1", "rack": "rack1", "tokens": "100"},
             "redis": {"address": "127.0.0.1:6379", "version": "7.0.15"},
             "snapshot_id": "20261124T020000Z", "started_at": "2026-11-24T02:00:00Z",
             "tool": {"name": "dynokeeper", "version": "0.2.0"}, "type": "rdb"}
            """
        guard let problem else {
            #expect(try SnapshotManifest.decode(Data(json.utf8), key: "k").files.count == 1)
            return
        }
        let refused = #expect(throws: DynokeeperError.self) {
            _ = try SnapshotManifest.decode(Data(json.utf8), key: "k")
        }
        #expect(refused?.description.contains(problem) == true, "\(String(describing: refused))")
        let negative = json.replacingOccurrences(of: #""size": 30"#, with: #""size": -30"#)
            .replacingOccurrences(of: names, with: #""name": "dump.rdb", "object": "dump.rdb.zst""#)
        #expect(throws: DynokeeperError.self) { _ = try SnapshotManifest.decode(Data(negative.utf8), key: "k") }
    }

    @Test func snapshotIDsRoundTripAndSortByTime() throws {
        let id = SnapshotID(date: Date(timeIntervalSince1970: 1_795_478_400.75))
        #expect(id.text == "20261124T000000Z")
        #expect(SnapshotID("20261124T000000Z") == id)
        #expect(SnapshotID("2026-11-24") == nil)
        #expect(SnapshotID("20261124T000000Z")! < SnapshotID("20261124T000001Z")!)
    }

    /// A ring manifest in the store is input like any other: names that would leave the cluster's folders (or are
    /// not names) make it one not to follow.
    @Test func aRingManifestNamingImpossibleNodesIsRefused() async throws {
        try await withResource(TestStore.make(.local)) { store in
            let id = try #require(SnapshotID("20261120T020000Z"))
            let catalog = RingCatalog(store: store.store, logger: Engine.logger)
            for (rack, tokens) in [("../../etc", "0"), ("", "0"), ("..", "0"), ("rack\u{7}", "0"), ("rack1", "x/y")] {
                let node = RingManifest.Node(
                    datacenter: "dc1", rack: rack, tokens: tokens, prefix: "p/", url: "http://a")
                let manifest = RingManifest(
                    snapshotID: id, cluster: "c", type: .rdb, nodes: [node], startedAt: id.date, finishedAt: id.date)
                _ = try await store.store.put(
                    RingManifest.key(cluster: "c", id: id),
                    bytes: ByteBuffer(bytes: SnapshotManifest.encoder.encode(manifest)))
                let error = await expectFailure(.snapshot) { _ = try await catalog.manifest(cluster: "c", id: id) }
                #expect(error?.message.contains("names a node that cannot be") == true, "\(rack) \(tokens)")
            }
        }
    }
}
