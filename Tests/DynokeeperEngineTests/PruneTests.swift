import DynokeeperConfiguration
import DynokeeperEngine
import DynokeeperTestSupport
import Foundation
import NIOCore
import ObjectStorage
import Testing

/// Retention: restic's rules over a synthetic history, and prune over real snapshots (both stores), never the
/// newest, a pinned one or one a ring snapshot names.
@Suite struct RetentionPolicyTests {
    static func date(_ text: String) -> Date { SnapshotID(text)!.date }

    /// Every 6 hours from 2026-10-20T00 to 2026-11-03T18 (a month boundary, and ISO weeks 43 to 45), newest first.
    static let history: [Date] = {
        let start = date("20261020T000000Z")
        return (0..<60).map { start.addingTimeInterval(Double($0) * 6 * 3600) }.reversed()
    }()

    static func kept(_ policy: RetentionPolicy) -> [String] {
        zip(history, policy.reasons(history)).filter { !$0.1.isEmpty }.map { SnapshotID(date: $0.0).text }
    }

    @Test func eachRuleKeepsTheNewestOfItsPeriods() {
        #expect(Self.history.first == Self.date("20261103T180000Z"))
        #expect(Self.kept(RetentionPolicy(last: 3)) == ["20261103T180000Z", "20261103T120000Z", "20261103T060000Z"])
        #expect(
            Self.kept(RetentionPolicy(daily: 3)) == ["20261103T180000Z", "20261102T180000Z", "20261101T180000Z"])
        // 2026-11-03 is a Tuesday of ISO week 45; week 44 ends on Sunday 2026-11-01.
        #expect(
            Self.kept(RetentionPolicy(weekly: 3)) == ["20261103T180000Z", "20261101T180000Z", "20261025T180000Z"])
        #expect(Self.kept(RetentionPolicy(monthly: 5)) == ["20261103T180000Z", "20261031T180000Z"])
        #expect(Self.kept(RetentionPolicy(hourly: 2)) == ["20261103T180000Z", "20261103T120000Z"])
        #expect(
            Self.kept(RetentionPolicy(within: .seconds(12 * 3600)))
                == ["20261103T180000Z", "20261103T120000Z", "20261103T060000Z"])
        // Any rule keeps: the union.
        #expect(
            Self.kept(RetentionPolicy(last: 1, monthly: 2))
                == ["20261103T180000Z", "20261031T180000Z"])
        let reasons = RetentionPolicy(last: 1, daily: 1, monthly: 1).reasons(Self.history)[0]
        #expect(reasons == ["last 1", "daily 2026-11-03", "monthly 2026-11"])
        #expect(RetentionPolicy().isEmpty)
    }
}

@Suite(.tags(.integration)) struct PruneTests {
    static let days = ["20261025", "20261026", "20261027", "20261028", "20261029", "20261030"]

    /// Six daily snapshots of one node, oldest first.
    static func history(_ store: any ObjectStore, port: Int) async throws -> [SnapshotEntry] {
        let node = NodeSettings.test(port: port)
        for day in days {
            var options = NodeBackup.Options(type: .rdb, snapshotID: SnapshotID("\(day)T020000Z"))
            options.method = .file
            _ = try await Engine.backup(node, store: store).run(options)
        }
        return try await SnapshotCatalog(store: store, logger: Engine.logger).snapshots(of: node.identity).reversed()
    }

    @Test(arguments: StoreKind.allCases)
    func pruneKeepsWhatTheRulesSayAndNeverThePinnedOrARingsSnapshots(kind: StoreKind) async throws {
        try await withResource(TestStore.make(kind)) { store in
            try await withResource(RedisServer.start()) { source in
                try await RedisDataset.populateAllTypes(source)
                let entries = try await Self.history(store.store, port: source.port)
                #expect(entries.count == 6)
                let node = entries[0].node
                // The oldest is pinned; the second oldest belongs to a ring snapshot.
                try await SnapshotPins(store: store.store).pin(entries[0], note: "before the migration")
                let ring = RingManifest(
                    snapshotID: entries[1].id, cluster: node.cluster, type: .rdb,
                    nodes: [
                        .init(
                            datacenter: node.datacenter, rack: node.rack, tokens: node.tokens,
                            prefix: entries[1].prefix, url: "http://127.0.0.1:1")
                    ], startedAt: entries[1].id.date, finishedAt: entries[1].id.date)
                _ = try await store.store.put(
                    RingManifest.key(cluster: node.cluster, id: entries[1].id),
                    bytes: ByteBuffer(bytes: try SnapshotManifest.encoder.encode(ring)))
                let pruner = SnapshotPruner(store: store.store, logger: Engine.logger)

                let planned = try await pruner.run(node, policy: RetentionPolicy(last: 2), dryRun: true)
                #expect(planned.map(\.snapshot) == entries.reversed().map(\.id.text))
                #expect(
                    planned.filter(\.keep).map(\.snapshot) == [
                        "20261030T020000Z", "20261029T020000Z", "20261026T020000Z", "20261025T020000Z",
                    ])
                #expect(planned[0].reasons == ["newest", "last 2"])
                #expect(planned[5].reasons == ["pinned"])
                #expect(planned[4].reasons == ["ring snapshot 20261026T020000Z"])
                // A dry run removes nothing.
                #expect(
                    try await SnapshotCatalog(store: store.store, logger: Engine.logger).snapshots(of: node).count == 6)

                _ = try await pruner.run(node, policy: RetentionPolicy(last: 2), dryRun: false)
                let left = try await SnapshotCatalog(store: store.store, logger: Engine.logger).snapshots(of: node)
                #expect(
                    left.map(\.id.text) == [
                        "20261030T020000Z", "20261029T020000Z", "20261026T020000Z", "20261025T020000Z",
                    ])
                #expect(left.last?.pinned == true)
                // Nothing of the removed ones is left in the store.
                for removed in entries[2...3] {
                    #expect(try await store.store.listAll(prefix: removed.prefix).isEmpty, "\(removed.prefix)")
                }

                // Unpinned, and the ring snapshot gone, only the rules (and the newest) count.
                try await SnapshotPins(store: store.store).unpin(entries[0])
                try await store.store.delete([RingManifest.key(cluster: node.cluster, id: entries[1].id)])
                _ = try await pruner.run(node, policy: RetentionPolicy(daily: 1), dryRun: false)
                #expect(
                    try await SnapshotCatalog(store: store.store, logger: Engine.logger).snapshots(of: node).map(
                        \.id.text)
                        == ["20261030T020000Z"])
            }
        }
    }

    /// `--ring`: ring snapshots are kept or expired as wholes, their node snapshots with them.
    @Test func ringSnapshotsArePrunedAsWholes() async throws {
        try await withResource(TestStore.make(.local)) { store in
            try await withResource(RedisServer.start()) { source in
                try await RedisDataset.populateAllTypes(source)
                let entries = try await Self.history(store.store, port: source.port)
                let node = entries[0].node
                for entry in entries.prefix(3) {
                    let ring = RingManifest(
                        snapshotID: entry.id, cluster: node.cluster, type: .rdb,
                        nodes: [
                            .init(
                                datacenter: node.datacenter, rack: node.rack, tokens: node.tokens, prefix: entry.prefix,
                                url: "http://127.0.0.1:1")
                        ], startedAt: entry.id.date, finishedAt: entry.id.date)
                    _ = try await store.store.put(
                        RingManifest.key(cluster: node.cluster, id: entry.id),
                        bytes: ByteBuffer(bytes: try SnapshotManifest.encoder.encode(ring)))
                }
                let pruner = SnapshotPruner(store: store.store, logger: Engine.logger)
                let decisions = try await pruner.runRing(
                    cluster: node.cluster, policy: RetentionPolicy(last: 1), dryRun: false)
                #expect(decisions.map(\.snapshot) == ["20261027T020000Z", "20261026T020000Z", "20261025T020000Z"])
                #expect(decisions.map(\.keep) == [true, false, false])
                let ring = try await RingCatalog(store: store.store, logger: Engine.logger).ids(cluster: node.cluster)
                #expect(ring.map(\.text) == ["20261027T020000Z"])
                let left = try await SnapshotCatalog(store: store.store, logger: Engine.logger).snapshots(of: node)
                #expect(left.map(\.id.text) == Array(Self.days.suffix(4).reversed()).map { "\($0)T020000Z" })
            }
        }
    }

    /// A snapshot dated in the future (a fast clock, or planted in the bucket) is not the newest and takes no
    /// rule's place: the real newest stays, and the planted one is left for a person to look at.
    @Test func aFutureDatedSnapshotPushesNoRealOneOut() async throws {
        try await withResource(TestStore.make(.local)) { store in
            try await withResource(RedisServer.start()) { source in
                try await RedisDataset.populateAllTypes(source)
                let entries = try await Self.history(store.store, port: source.port)
                let node = entries[0].node
                var options = NodeBackup.Options(type: .rdb, snapshotID: SnapshotID("20991231T000000Z"))
                options.method = .file
                _ = try await Engine.backup(NodeSettings.test(port: source.port), store: store.store).run(options)
                let pruner = SnapshotPruner(store: store.store, logger: Engine.logger)
                for policy in [
                    RetentionPolicy(last: 1), RetentionPolicy(daily: 1), RetentionPolicy(within: .seconds(86_400)),
                ] {
                    let planned = try await pruner.run(node, policy: policy, dryRun: true)
                    #expect(planned.first?.snapshot == "20991231T000000Z")
                    #expect(
                        planned.first?.keep == true
                            && planned.first?.reasons.first?.hasPrefix("dated in the future") == true)
                    #expect(planned[1].snapshot == "20261030T020000Z" && planned[1].keep, "\(planned[1])")
                    #expect(planned[1].reasons.first == "newest")
                }
                _ = try await pruner.run(node, policy: RetentionPolicy(last: 1), dryRun: false)
                let left = try await SnapshotCatalog(store: store.store, logger: Engine.logger).snapshots(of: node)
                #expect(left.map(\.id.text) == ["20991231T000000Z", "20261030T020000Z"])
                // verify's newest is the real one too.
                let reports = try await SnapshotVerifier(store: store.store, logger: Engine.logger).run(
                    node, request: VerificationRequest())
                #expect(reports.map(\.snapshot) == ["20261030T020000Z"])
            }
        }
    }

    @Test func noRuleIsRefused() async throws {
        try await withResource(TestStore.make(.local)) { store in
            let error = await expectFailure(.invalidRequest) {
                _ = try await SnapshotPruner(store: store.store, logger: Engine.logger).run(
                    NodeSettings.test(port: 1).identity, policy: RetentionPolicy(), dryRun: false)
            }
            #expect(error?.message.contains("--keep-last") == true)
        }
    }
}
