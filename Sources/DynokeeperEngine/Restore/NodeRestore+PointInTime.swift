import DynokeeperConfiguration
import Foundation
import NIOCore
import ObjectStorage
import RedisClient

/// Point-in-time restores (`--to-time`): the base snapshot goes in as any restore's, then the archived commands
/// after it are applied up to the moment, before Dynomite starts.
extension NodeRestore {
    var archive: PointInTimeArchive {
        PointInTimeArchive(store: store, keys: SnapshotKeyring(configuration.encryption))
    }

    /// Chooses the base and the segments for `target`, and points the request at that base.
    /// - Throws: When the archive does not cover the moment, naming the windows it covers; nothing is touched.
    func planPointInTime(to target: Date, options: inout Options) async throws -> PointInTimeArchive.Plan {
        guard options.request.date == nil, options.request.snapshotID == nil else {
            throw DynokeeperError(
                .invalidRequest, "a point-in-time restore picks its own base: give no date or snapshot with it")
        }
        guard options.request.format != .dynomiteManager else {
            throw DynokeeperError(
                .invalidRequest,
                "Dynomite-manager's objects are not linked to an archived stream: a point-in-time restore takes dynokeeper snapshots"
            )
        }
        let source = options.request.source
        let snapshots = try await SnapshotCatalog(store: store, logger: logger).snapshots(of: source)
        let plan = try await archive.plan(source, to: target, snapshots: snapshots)
        options.request.snapshotID = plan.base
        options.request.format = .dynokeeper
        logger.info(
            "point-in-time restore to \(PointInTimeArchive.format(target)): base snapshot \(plan.base) at offset \(plan.baseReplication.offset), then \(plan.segments.count) archive segment(s) up to offset \(plan.targetOffset)"
        )
        return plan
    }

    static func describe(_ plan: PointInTimeArchive.Plan) -> String {
        let bytes = plan.segments.reduce(0) { $0 + $1.size }
        return
            "point in time \(PointInTimeArchive.format(plan.target)): snapshot \(plan.base) (offset \(plan.baseReplication.offset)), then the archived commands up to offset \(plan.targetOffset) from \(plan.segments.count) segment(s), \(bytes) bytes stored"
            + (plan.checkpoint.map {
                "; on the way, the key counts Redis had at offset \($0.offset) (\($0.keyspace.values.reduce(0) { $0 + $1.keys }) keys) are checked"
            } ?? "")
    }

    /// Fetches the plan's segments into the work folder, each checked (a damaged one fails the restore before the
    /// node is touched).
    func fetchSegments(_ plan: PointInTimeArchive.Plan, journal: RestoreJournal) async throws {
        progress?.step("fetch and verify \(plan.segments.count) archive segment(s)")
        try await LocalFileSystem.makeFolders(journal.segments)
        for (index, segment) in plan.segments.enumerated() {
            let stored = try await store.getBytes(segment.key, limit: 1 << 30)
            let read = try await StreamSegment.read(
                stored, name: segment.name, encrypted: segment.encrypted, node: journal.sourceNode,
                keys: SnapshotKeyring(configuration.encryption))
            if index > 0, read.name.startOffset != plan.segments[index - 1].name.endOffset {
                throw DynokeeperError.snapshot("the archive has a gap before \(segment.key)")
            }
            let writer = try await LocalFileWriter.create(journal.segments + "/" + segment.name.objectName)
            try await writer.write(stored)
            try await writer.sync()
        }
        // The replay loads the base from its own link to the fetched RDB: Redis replaces its dump.rdb when it saves
        // (a save point during a long replay), and a resumed replay must start again from the base itself.
        if journal.online == nil, let base = journal.plan.placements.first(where: { $0.source != nil }) {
            try? await LocalFileSystem.remove(journal.replayBase)
            try await LocalFileSystem.link(journal.incoming + "/" + base.target, to: journal.replayBase)
        }
    }

    /// What the replay needs of Redis (see ``OnlineLoad/check(_:)``), said for a point-in-time restore.
    /// - Parameter touched: Whether the restore has touched the node already (the message then does not say it was
    ///   not).
    static func checkReplay(_ redis: RedisConnection, touched: Bool = false) async throws -> [String: String] {
        do {
            return try await OnlineLoad.check(redis)
        } catch let error as DynokeeperError {
            var message = error.message
            for advice in [", or use restore.method files", ": use restore.method files", "; nothing was touched"] {
                message = message.replacingOccurrences(of: advice, with: "")
            }
            throw DynokeeperError.snapshot(
                "a point-in-time restore applies the archived commands with Redis a replica of dynokeeper for a while, and \(message)\(touched ? "" : "; nothing was touched")"
            )
        }
    }

    /// The fetched segments' commands after the base, up to the plan's target, to follow the base's RDB.
    func streamReplay(_ state: RestoreJournal.PointInTimeState, journal: RestoreJournal) -> StreamReplay {
        StreamReplay(
            segments: state.plan.segments.map { (journal.segments + "/" + $0.name.objectName, $0) },
            node: journal.sourceNode, keys: SnapshotKeyring(configuration.encryption),
            baseOffset: state.plan.baseReplication.offset, targetOffset: state.plan.targetOffset,
            checkpoint: state.plan.checkpoint)
    }
}
