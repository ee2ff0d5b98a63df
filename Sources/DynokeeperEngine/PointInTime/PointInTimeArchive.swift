package import DynokeeperConfiguration
package import Foundation
package import ObjectStorage

/// A node's archived command stream in the store: which moments it covers, and what a restore to one of them
/// needs (a base snapshot linked to the stream, and the segments from it up to that moment).
package struct PointInTimeArchive: Sendable {
    /// A segment as the store lists it.
    package struct StoredSegment: Sendable, Equatable, Codable {
        package var name: StreamSegment.Name
        package var key: String
        package var size: Int64
        package var encrypted: Bool

        package init(name: StreamSegment.Name, key: String, size: Int64, encrypted: Bool) {
            self.name = name
            self.key = key
            self.size = size
            self.encrypted = encrypted
        }
    }

    /// A stretch of time whose every moment a restore can reach: the archiver followed Redis without a break
    /// from `from` to `to`, and stored every command.
    package struct Window: Sendable, Equatable, Codable, CustomStringConvertible {
        package var replicationID: String
        package var from: Date
        package var to: Date
        package var startOffset: Int64
        package var endOffset: Int64
        package var segments: Int

        package var description: String {
            "\(PointInTimeArchive.format(from)) to \(PointInTimeArchive.format(to))"
        }

        enum CodingKeys: String, CodingKey {
            case replicationID = "replicationId", from, to, startOffset, endOffset, segments
        }
    }

    /// What a restore to a moment replays: the commands of `segments` after the base's offset, up to `target`.
    package struct Plan: Sendable, Equatable, Codable {
        package var target: Date
        package var base: SnapshotID
        package var baseReplication: SnapshotManifest.Replication
        package var segments: [StoredSegment]
        /// The offset the stream reaches at the target (the last command at or before it).
        package var targetOffset: Int64
        /// The last marker at or before the target: the data is checked against Redis's key counts there on the way.
        package var checkpoint: StreamSegment.Checkpoint? = nil
    }

    /// What `dynokeeper pitr status` shows of a node's archive.
    package struct Report: Sendable, Codable, Equatable {
        package var node: NodeIdentity
        package var segments: Int
        package var storedBytes: Int64
        /// The moments a restore reaches, each window from its first base on.
        package var windows: [Window]
        /// Archived stretches that no restore reaches: no base before them (a new stream whose base is not stored
        /// yet, a base pruned away, a hole in the archive).
        package var unreachable: [Window]
        /// The snapshots linked to an archived stream, and where in it.
        package var bases: [Base]

        package struct Base: Sendable, Codable, Equatable {
            package var snapshot: String
            package var replicationID: String
            package var offset: Int64
            package var startedAt: Date

            enum CodingKeys: String, CodingKey {
                case snapshot, replicationID = "replicationId", offset, startedAt
            }
        }
    }

    package let store: any ObjectStore
    package let keys: SnapshotKeyring

    package init(store: any ObjectStore, keys: SnapshotKeyring) {
        self.store = store
        self.keys = keys
    }

    /// Every segment of a node, in stream order.
    package func segments(of node: NodeIdentity) async throws -> [StoredSegment] {
        let prefix = StreamSegment.archivePrefix(node)
        return try await store.listAll(prefix: prefix).compactMap { object -> StoredSegment? in
            let parts = object.key.dropFirst(prefix.count).split(separator: "/")
            guard object.key.hasPrefix(prefix), parts.count == 2,
                let name = StreamSegment.Name(replicationID: String(parts[0]), objectName: String(parts[1]))
            else { return nil }
            return StoredSegment(
                name: name, key: object.key, size: object.size,
                encrypted: object.key.hasSuffix(ChunkedEncryption.objectSuffix))
        }.sorted { $0.name < $1.name }
    }

    /// The node's windows and bases.
    package func report(_ node: NodeIdentity, snapshots: [SnapshotEntry]) async throws -> Report {
        let segments = try await segments(of: node)
        let reachable = Self.reachable(segments, bases: snapshots)
        return Report(
            node: node, segments: segments.count, storedBytes: segments.reduce(0) { $0 + $1.size },
            windows: reachable.windows, unreachable: reachable.unreachable,
            bases: snapshots.compactMap { entry in
                entry.manifest.replication.map {
                    Report.Base(
                        snapshot: entry.id.text, replicationID: $0.id, offset: $0.offset,
                        startedAt: entry.manifest.startedAt)
                }
            }.sorted { $0.startedAt < $1.startedAt })
    }

    /// Reads and checks one segment.
    package func read(_ segment: StoredSegment, node: NodeIdentity) async throws -> StreamSegment {
        let stored = try await store.getBytes(segment.key, limit: 1 << 30)
        return try await StreamSegment.read(
            stored, name: segment.name, encrypted: segment.encrypted, node: node, keys: keys)
    }

    /// The runs of segments whose offsets follow on without a gap (one replication history each).
    static func chains(_ segments: [StoredSegment]) -> [[StoredSegment]] {
        var chains: [[StoredSegment]] = []
        for segment in segments.sorted(by: { $0.name < $1.name }) {
            if let last = chains.last?.last, last.name.replicationID == segment.name.replicationID {
                // A segment stored twice (an archiver that stopped after storing it, and a second one) counts once.
                if segment.name.startOffset < last.name.endOffset && segment.name.endOffset <= last.name.endOffset {
                    continue
                }
                if segment.name.startOffset == last.name.endOffset {
                    chains[chains.count - 1].append(segment)
                    continue
                }
            }
            chains.append([segment])
        }
        return chains
    }

    /// The snapshots that are bases of the stream `replicationID` between offsets `start` and `end`, with their
    /// positions.
    static func bases(
        _ snapshots: [SnapshotEntry], of replicationID: String, from start: Int64, to end: Int64
    ) -> [(entry: SnapshotEntry, replication: SnapshotManifest.Replication)] {
        snapshots.compactMap { entry in
            guard let replication = entry.manifest.replication, replication.id == replicationID,
                replication.offset >= start, replication.offset <= end
            else { return nil }
            return (entry, replication)
        }
    }

    /// The bases of a chain of segments.
    static func bases(
        _ snapshots: [SnapshotEntry], in chain: [StoredSegment]
    ) -> [(entry: SnapshotEntry, replication: SnapshotManifest.Replication)] {
        bases(
            snapshots, of: chain[0].name.replicationID, from: chain[0].name.startOffset,
            to: chain[chain.count - 1].name.endOffset)
    }

    /// The segments no restore can use once only `bases` are kept: a stream's segments before its oldest kept base,
    /// and every segment of a stream with none (a base is needed to replay anything).
    package static func unneeded(_ segments: [StoredSegment], bases: [SnapshotEntry]) -> [StoredSegment] {
        chains(segments).flatMap { chain -> [StoredSegment] in
            guard let oldest = Self.bases(bases, in: chain).map(\.replication.offset).min() else { return chain }
            return chain.filter { $0.name.endOffset < oldest }
        } + duplicates(segments)
    }

    /// The folders of the newest base of each stream the segments hold: a stream without a kept base is lost.
    package static func newestBases(_ segments: [StoredSegment], bases: [SnapshotEntry]) -> Set<String> {
        Set(
            chains(segments).compactMap { chain in
                Self.bases(bases, in: chain).max { $0.replication.offset < $1.replication.offset }?.entry.prefix
            })
    }

    /// Segments stored twice (a second archiver over the same offsets), which ``chains(_:)`` skips.
    static func duplicates(_ segments: [StoredSegment]) -> [StoredSegment] {
        let kept = Set(chains(segments).flatMap { $0.map(\.key) })
        return segments.filter { !kept.contains($0.key) }
    }

    /// The windows the segments cover: a gap in the offsets, or in time (the archiver stopped and continued
    /// later), ends one.
    package static func windows(_ segments: [StoredSegment]) -> [Window] {
        var windows: [Window] = []
        for chain in chains(segments) {
            var run: [StoredSegment] = []
            func close() {
                guard let first = run.first, let last = run.last else { return }
                windows.append(
                    Window(
                        replicationID: first.name.replicationID, from: date(first.name.openedAt),
                        to: date(last.name.closedAt), startOffset: first.name.startOffset,
                        endOffset: last.name.endOffset, segments: run.count))
                run = []
            }
            for segment in chain {
                if let last = run.last, last.name.closedAt != segment.name.openedAt { close() }
                run.append(segment)
            }
            close()
        }
        return windows.sorted { $0.from < $1.from }
    }

    /// The windows a restore can reach: each from its first base on (a stream's moments before any base of it, or
    /// a stream with none, cannot be restored); `unreachable`, the archived stretches without a base before them.
    package static func reachable(
        _ segments: [StoredSegment], bases snapshots: [SnapshotEntry]
    ) -> (windows: [Window], unreachable: [Window]) {
        let chains = chains(segments)
        var reachable: [Window] = []
        var unreachable: [Window] = []
        for window in windows(segments) {
            let chain = chains.first { chain in
                chain[0].name.replicationID == window.replicationID && chain[0].name.startOffset <= window.startOffset
                    && chain[chain.count - 1].name.endOffset >= window.endOffset
            }
            guard let chain,
                let base = bases(
                    snapshots, of: window.replicationID, from: chain[0].name.startOffset, to: window.endOffset
                ).min(by: { $0.replication.offset < $1.replication.offset })
            else {
                unreachable.append(window)
                continue
            }
            var clipped = window
            if base.replication.offset > window.startOffset {
                clipped.from = max(window.from, base.entry.manifest.startedAt)
                clipped.startOffset = base.replication.offset
            }
            reachable.append(clipped)
        }
        return (reachable, unreachable)
    }

    /// What a restore of `node` to `target` replays, from which base; refused, naming the windows, when the
    /// archive does not cover it.
    /// - Parameter snapshots: The node's complete snapshots (the bases to choose from).
    package func plan(
        _ node: NodeIdentity, to target: Date, snapshots: [SnapshotEntry]
    ) async throws -> Plan {
        let segments = try await segments(of: node)
        let windows = Self.reachable(segments, bases: snapshots).windows
        // To the millisecond the archive records (a moment parsed from text is a few ulps off its millisecond).
        let targetMs = Int64((target.timeIntervalSince1970 * 1000).rounded())
        let named =
            windows.isEmpty
            ? "the archive of \(node.cluster) \(node) holds no segment (is pitr.enabled set, and serve running?)"
            : "the archive of \(node.cluster) \(node) covers \(windows.map(\.description).joined(separator: ", "))"
        guard windows.contains(where: { $0.from <= target && target <= $0.to }),
            let chain = Self.chains(segments).first(where: { chain in
                chain.contains { $0.name.openedAt <= targetMs && targetMs <= $0.name.closedAt }
            }),
            let last = chain.firstIndex(where: { $0.name.openedAt <= targetMs && targetMs <= $0.name.closedAt })
        else {
            throw DynokeeperError(
                .invalidRequest, "\(Self.format(target)) is outside the archived stream: \(named); nothing was touched")
        }
        // The offset the stream had reached at the target: after the last command timed by then.
        let holding = try await read(chain[last], node: node)
        let targetOffset = try await Self.offset(at: targetMs, in: chain, upTo: last, holding: holding) {
            try await self.read($0, node: node)
        }
        let bases = Self.bases(
            snapshots, of: chain[last].name.replicationID, from: chain[0].name.startOffset, to: targetOffset)
        guard
            let (base, replication) = bases.max(by: {
                ($0.replication.offset, $0.entry.id) < ($1.replication.offset, $1.entry.id)
            })
        else {
            throw DynokeeperError(
                .invalidRequest,
                "no snapshot of \(node.cluster) \(node) is a base for \(Self.format(target)): a base must be taken within the archived stream before that moment (serve takes one when the archiver starts a stream; backups record where they are in it); \(named); nothing was touched"
            )
        }
        // The last marker at or before the target (after the base): Redis's key counts there were recorded, and the
        // data is checked against them when the replay passes it.
        var checkpoint = holding.checkpoints.last { $0.offset <= targetOffset && $0.offset > replication.offset }
        // (A segment may also hold the checkpoint of a marker just before it: the answer came after it was stored.)
        var earlier = last - 1
        while checkpoint == nil, earlier >= 0, chain[earlier].name.endOffset > replication.offset, last - earlier <= 8 {
            // The moment is early in its segment, or markers were late: an earlier segment's last one.
            checkpoint = try await read(chain[earlier], node: node).checkpoints.last {
                $0.offset > replication.offset && $0.offset <= targetOffset
            }
            earlier -= 1
        }
        // From the first segment with a command after the base (one that ends at the base holds nothing to apply).
        let first = min(chain.firstIndex { $0.name.endOffset > replication.offset } ?? last, last)
        return Plan(
            target: target, base: base.id, baseReplication: replication, segments: Array(chain[first...last]),
            targetOffset: targetOffset, checkpoint: checkpoint)
    }

    /// The offset after the last command timed at or before `targetMs`: looking back into earlier segments when
    /// the one holding the moment has none (a segment stored full in a burst keeps its commands' arrival times), a
    /// few at most; and before a transaction that is still open there (Redis applies MULTI … EXEC as one).
    static func offset(
        at targetMs: Int64, in chain: [StoredSegment], upTo last: Int, holding: StreamSegment,
        read: (StoredSegment) async throws -> StreamSegment
    ) async throws -> Int64 {
        var examined = [holding]
        var found = holding.records.last { $0.time <= targetMs }?.offset
        var index = last - 1
        while found == nil, index >= 0, examined.count < 4 {
            let earlier = try await read(chain[index])
            examined.insert(earlier, at: 0)
            found = earlier.records.last { $0.time <= targetMs }?.offset
            index -= 1
        }
        let target = found ?? examined[0].name.startOffset
        var transaction: Int64?
        var previous = examined[0].name.startOffset
        for record in examined.flatMap(\.records) where record.offset <= target {
            switch StreamReplay.name(record.command) {
            case "multi": transaction = previous
            case "exec", "discard": transaction = nil
            default: break
            }
            previous = record.offset
        }
        return transaction ?? target
    }

    static func date(_ milliseconds: Int64) -> Date { Date(timeIntervalSince1970: Double(milliseconds) / 1000) }

    /// A moment as messages show it: UTC, to the millisecond when it has one.
    package static func format(_ date: Date) -> String { APIJSON.text(date) }
}
