package import DynokeeperConfiguration
package import Foundation
package import Logging
package import ObjectStorage

/// Removes a node's snapshots that no retention rule keeps. Never removed: the newest complete snapshot, a pinned
/// one, and one that a ring snapshot of the cluster still names (ring snapshots are kept or expired as a whole).
/// A snapshot goes manifest first, so that one removed half-way is never listed as complete (`gc` finishes it).
package struct SnapshotPruner: Sendable {
    /// What happens to one snapshot, and why.
    package struct Decision: Sendable, Codable, Equatable {
        package var snapshot: String
        package var node: String
        package var keep: Bool
        /// Why it stays (the rules, `newest`, `pinned`, `ring snapshot …`); empty when it goes.
        package var reasons: [String]
        package var storedSize: Int64
        /// `archive` for the point-in-time archive's segments that no kept snapshot needs (`snapshot` then says how
        /// many); absent for snapshots.
        package var kind: String? = nil

        package init(snapshot: String, node: String, keep: Bool, reasons: [String], storedSize: Int64) {
            self.snapshot = snapshot
            self.node = node
            self.keep = keep
            self.reasons = reasons
            self.storedSize = storedSize
        }
    }

    package let store: any ObjectStore
    package let logger: Logger

    package init(store: any ObjectStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    /// Decides for each of a node's snapshots (newest first) and, unless `dryRun`, removes those that go.
    package func run(
        _ node: NodeIdentity, policy: RetentionPolicy, dryRun: Bool
    ) async throws -> [Decision] {
        try Self.requireRules(policy)
        // Segments first: a base stored meanwhile has no segments yet to lose.
        let segments = try await PointInTimeArchive(store: store, keys: .none).segments(of: node)
        let entries = try await SnapshotCatalog(store: store, logger: logger).snapshots(of: node)
        let decisions = Self.decide(
            entries, policy: policy, ringNeeded: try await ringNeeded(cluster: node.cluster),
            pointInTimeBases: PointInTimeArchive.newestBases(segments, bases: entries))
        if !dryRun {
            for (entry, decision) in zip(entries, decisions) where !decision.keep {
                try await remove(entry)
            }
        }
        let kept = zip(entries, decisions).filter { $0.1.keep }.map(\.0)
        let unneeded = PointInTimeArchive.unneeded(segments, bases: kept)
        guard !unneeded.isEmpty else { return decisions }
        if !dryRun {
            logger.info(
                "removing \(unneeded.count) point-in-time archive segment(s) of \(node) that no kept snapshot needs")
            try await store.delete(unneeded.map(\.key))
        }
        var archive = Decision(
            snapshot: "archive: \(unneeded.count) segment(s)", node: "\(node.cluster)/\(node)", keep: false,
            reasons: [],
            storedSize: unneeded.reduce(0) { $0 + $1.size })
        archive.kind = "archive"
        return decisions + [archive]
    }

    /// Prunes a cluster's ring snapshots as wholes: an expired one loses its ring manifest first, then each node's
    /// snapshot it names, except a node's newest and a pinned one (which stay as node snapshots).
    /// - Returns: One decision per ring snapshot, newest first.
    package func runRing(cluster: String, policy: RetentionPolicy, dryRun: Bool) async throws -> [Decision] {
        try Self.requireRules(policy)
        let ring = RingCatalog(store: store, logger: logger)
        let now = Date()
        let ids = try await ring.ids(cluster: cluster)
        let reasons = Self.reasons(ids, policy: policy, now: now)
        let entries = try await SnapshotCatalog(store: store, logger: logger).snapshots(cluster: cluster)
        let newestOfNode = Set(
            Dictionary(grouping: entries, by: { $0.node.description }).values.compactMap {
                $0.first { !$0.id.isFuture(now: now) }?.prefix
            })
        var decisions: [Decision] = []
        for (id, why) in zip(ids, reasons) {
            let manifest = try await ring.manifest(cluster: cluster, id: id)
            let members = entries.filter { entry in manifest.nodes.contains { $0.prefix == entry.prefix } }
            decisions.append(
                Decision(
                    snapshot: id.text, node: "\(cluster) (ring, \(manifest.nodes.count) nodes)", keep: !why.isEmpty,
                    reasons: why, storedSize: members.reduce(0) { $0 + $1.manifest.storedSize }))
            guard why.isEmpty, !dryRun else { continue }
            logger.info("removing ring snapshot \(id) of \(cluster)")
            try await store.delete([RingManifest.key(cluster: cluster, id: id)])
            for member in members where !member.pinned && !newestOfNode.contains(member.prefix) {
                try await remove(member)
            }
        }
        return decisions
    }

    /// Why each snapshot (newest first) stays by the rules, `newest` first for the newest. One dated in the future
    /// (a node whose clock ran fast, or one planted in the store) is neither the newest nor counted by the rules, or
    /// it would push every real one out: it stays, for a person to look at.
    static func reasons(_ ids: [SnapshotID], policy: RetentionPolicy, now: Date) -> [[String]] {
        var ruled = policy.reasons(ids.filter { !$0.isFuture(now: now) }.map(\.date))[...]
        var first = true
        return ids.map { id in
            if id.isFuture(now: now) { return [futureReason] }
            var why = ruled.popFirst() ?? []
            if first { why.insert("newest", at: 0) }
            first = false
            return why
        }
    }

    static let futureReason =
        "dated in the future: not counted by the rules (check the clock of the node that took it; remove it by hand)"

    static func requireRules(_ policy: RetentionPolicy) throws(DynokeeperError) {
        guard policy.isEmpty else { return }
        throw DynokeeperError(
            .invalidRequest,
            "no retention rule given: set at least one of --keep-last, --keep-hourly, --keep-daily, --keep-weekly, --keep-monthly, --keep-within (or retention: in the configuration)"
        )
    }

    /// The decisions for `entries` (newest first): pure, for the tests' synthetic histories.
    /// - Parameter ringNeeded: Snapshot folders a ring snapshot names, with its id.
    /// - Parameter pointInTimeBases: Snapshot folders that are the newest base of a stream the point-in-time archive
    ///   holds: kept, or the archive after them could not be restored (nor kept).
    package static func decide(
        _ entries: [SnapshotEntry], policy: RetentionPolicy, ringNeeded: [String: SnapshotID], now: Date = Date(),
        pointInTimeBases: Set<String> = []
    ) -> [Decision] {
        zip(entries, reasons(entries.map(\.id), policy: policy, now: now)).map { entry, ruled in
            var why = ruled
            if entry.pinned { why.append("pinned") }
            if pointInTimeBases.contains(entry.prefix) { why.append("point-in-time base") }
            if let ring = ringNeeded[entry.prefix] { why.append("ring snapshot \(ring)") }
            return Decision(
                snapshot: entry.id.text, node: "\(entry.node.cluster)/\(entry.node)", keep: !why.isEmpty,
                reasons: why, storedSize: entry.manifest.storedSize)
        }
    }

    /// The node snapshot folders that the cluster's complete ring snapshots name.
    func ringNeeded(cluster: String) async throws -> [String: SnapshotID] {
        let ring = RingCatalog(store: store, logger: logger)
        var needed: [String: SnapshotID] = [:]
        for id in try await ring.ids(cluster: cluster) {
            for node in try await ring.manifest(cluster: cluster, id: id).nodes { needed[node.prefix] = id }
        }
        return needed
    }

    /// Removes one snapshot: its manifest first, then everything else in its folder.
    func remove(_ entry: SnapshotEntry) async throws {
        logger.info("removing snapshot \(entry.id) of \(entry.node) (\(entry.manifest.storedSize) bytes stored)")
        try await store.delete([entry.prefix + SnapshotLayout.manifestName])
        let rest = try await store.listAll(prefix: entry.prefix).map(\.key)
        if !rest.isEmpty { try await store.delete(rest) }
    }
}
