package import DynokeeperConfiguration
package import Foundation
package import Logging
import NIOCore
package import ObjectStorage
import RedisClient

/// Archives the node's command stream for point-in-time recovery (`pitr.enabled`, run by `serve`): follows Redis
/// as a replica does, stores the RDB of each full resynchronisation as a base snapshot (linked to the stream by
/// its replication offset), and the commands after it in segments closed every `pitr.segment_seconds` or
/// `pitr.segment_mb`.
///
/// After a break (a restart of `serve`, a dropped link) it asks Redis to continue from the last stored offset: Redis
/// continues when its backlog (`repl-backlog-size`) still holds it, and the archive has no gap in its offsets
/// (only the moments while it was away cannot be told apart); otherwise Redis starts a full resynchronisation, the
/// archiver stores a new base, and a new stream begins.
package actor StreamArchiver {
    /// What `/v1/status` shows of the archiver.
    package struct Status: Sendable, Codable, Equatable {
        /// `starting`, `following`, `waiting` (after a failure, before it tries again) or `stopped`.
        package var state: String = "starting"
        package var replicationID: String?
        /// The offset of the last command received.
        package var receivedOffset: Int64?
        /// The offset up to which the archive is stored.
        package var storedOffset: Int64?
        /// Every command up to this moment is stored: a restore can reach it.
        package var storedUntil: Date?
        /// How far behind now `storedUntil` is (seconds).
        package var lagSeconds: Double?
        package var segmentsStored = 0
        /// The base snapshot of the current stream.
        package var base: String?
        package var lastError: String?

        enum CodingKeys: String, CodingKey {
            case state, replicationID = "replicationId", receivedOffset, storedOffset, storedUntil, lagSeconds,
                segmentsStored, base, lastError
        }
    }

    /// The segment being filled.
    private struct Open {
        var replicationID: String
        var startOffset: Int64
        var openedAt: Int64
        var startDB: Int?
        var records: [StreamSegment.Record] = []
        var bytes = 0
        var endOffset: Int64 { records.last?.offset ?? startOffset }
    }

    let node: NodeSettings
    let connector: RedisConnector
    let store: any ObjectStore
    let keys: SnapshotKeyring
    let settings: DynokeeperConfiguration.PointInTime
    let backup: NodeBackup
    let backupOptions: NodeBackup.Options
    let logger: Logger
    /// Takes the node lock for a session, which may store a base snapshot: never while a restore runs or waits to be
    /// resumed (its half-restored data would become the newest snapshot); `nil` when it cannot be looked for.
    let lockForBase: @Sendable () async throws -> NodeLock?
    /// How long Redis may send nothing before the link counts as dead (it pings replicas every 10 s).
    var idleTimeout: TimeAmount = .seconds(30)

    private var open: Open?
    private var currentDB: Int?
    private var lastReceivedAt: Int64 = 0
    private var current = Status()
    /// Where to continue: the end of the newest stored segment, and the database selected there.
    private var resume: (position: ReplicationLink.Position, db: Int?, closedAt: Int64)?
    private var resumeLoaded = false
    private var base: (pipe: BytePipe, task: Task<NodeBackup.Report, any Error>)?
    private var lock: NodeLock?

    package init(
        node: NodeSettings, connector: RedisConnector, store: any ObjectStore, keys: SnapshotKeyring,
        settings: DynokeeperConfiguration.PointInTime, backup: NodeBackup, backupOptions: NodeBackup.Options,
        logger: Logger, lockForBase: @escaping @Sendable () async throws -> NodeLock? = { nil }
    ) {
        self.lockForBase = lockForBase
        self.node = node
        self.connector = connector
        self.store = store
        self.keys = keys
        self.settings = settings
        self.backup = backup
        var options = backupOptions
        options.type = .rdb
        options.method = .stream
        options.dynomiteManagerCopy = false
        self.backupOptions = options
        self.logger = logger
    }

    package var status: Status {
        var status = current
        if let until = status.storedUntil { status.lagSeconds = max(0, Date().timeIntervalSince(until)) }
        return status
    }

    /// Follows Redis until the task is cancelled, starting again after each failure (1 s, doubling up to 30 s).
    package func run() async {
        var pause = Duration.seconds(1)
        while !Task.isCancelled {
            do {
                try await follow()
                pause = .seconds(1)
            } catch is CancellationError {
                break
            } catch {
                if Task.isCancelled { break }
                current.lastError = "\(error)"
                logger.warning("point-in-time archive: \(error); trying again in \(pause)")
            }
            current.state = "waiting"
            try? await Task.sleep(for: pause)
            pause = min(pause * 2, .seconds(30))
        }
        current.state = "stopped"
    }

    /// One session of the link: from the last stored offset (or a full resynchronisation) until it breaks.
    func follow() async throws {
        if !resumeLoaded {
            resume = try await lastStored()
            resumeLoaded = true
        }
        let credentials = try connector.credentials()
        let (address, idle) = (connector.address, idleTimeout)
        let from = resume?.position
        lock = try await lockForBase()
        defer {
            abortBase()
            releaseLock()
        }
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await ReplicationLink.follow(address, credentials: credentials, from: from, idleTimeout: idle) {
                        event in try await self.handle(event)
                    }
                }
                // Closes segments on time and size; the only one that stores them, so that they go in order.
                group.addTask {
                    while true {
                        try await Task.sleep(for: .milliseconds(200))
                        try await self.sealIfDue()
                    }
                }
                defer { group.cancelAll() }
                try await group.next()
            }
        } catch {
            // A link that went silent may have missed commands since the last one it received; one that closed, or
            // that the archiver stopped, had everything up to now.
            let silent: Bool
            if case RedisError.timeout = error { silent = true } else { silent = false }
            await sealAtTheEnd(closedAt: silent ? lastReceivedAt : Self.nowMs())
            throw error
        }
        await sealAtTheEnd(closedAt: Self.nowMs())
    }

    /// Stores what arrived before the link ended, also when the archiver is being stopped: in a task of its own,
    /// which the stop does not cancel.
    private func sealAtTheEnd(closedAt: Int64) async {
        do {
            try await Task { try await self.seal(closedAt: closedAt) }.value
        } catch {
            logger.warning("point-in-time archive: the last segment could not be stored: \(error)")
        }
        // Nothing is open until Redis answers the next PSYNC: a window never reaches over a time without a link.
        open = nil
    }

    private func releaseLock() {
        lock?.release()
        lock = nil
    }

    private func handle(_ event: ReplicationLink.Event) async throws {
        let now = Self.nowMs()
        lastReceivedAt = now
        switch event {
        case .fullSync(let position):
            logger.info(
                "point-in-time archive: Redis starts a new stream \(position) (full resynchronisation); storing its RDB as the base snapshot"
            )
            currentDB = nil
            startBase(position)
            open = Open(replicationID: position.replicationID, startOffset: position.offset, openedAt: now)
            current.replicationID = position.replicationID
            current.receivedOffset = position.offset
        case .continued(let position):
            releaseLock()
            logger.info("point-in-time archive: Redis continues the stream \(position)")
            currentDB = resume?.db
            open = Open(
                replicationID: position.replicationID, startOffset: position.offset, openedAt: now, startDB: currentDB)
            current.replicationID = position.replicationID
            current.receivedOffset = position.offset
        case .rdb(let piece):
            guard let base else { return }
            do { try await base.pipe.send(piece) } catch { throw try await baseFailure(error) }
        case .rdbEnd:
            guard let base else { return }
            base.pipe.finish()
            let report: NodeBackup.Report
            do { report = try await base.task.value } catch { throw try await baseFailure(error) }
            self.base = nil
            releaseLock()
            current.base = report.manifest.snapshotID.text
            // The stream is live from here: commands that came during the transfer arrive now.
            open?.openedAt = Self.nowMs()
        case .command(let raw, let name, let offset):
            if name == "select", let db = Self.selectedDatabase(raw) { currentDB = db }
            guard open != nil else { throw DynokeeperError.snapshot("the replication stream started without PSYNC") }
            open!.records.append(StreamSegment.Record(offset: offset, time: now, command: raw))
            open!.bytes += raw.readableBytes
            current.receivedOffset = offset
            // Back-pressure: when segments are not stored as fast as commands come, the link waits (Redis keeps
            // them in the replica's output buffer).
            var waited = 0
            while (open?.bytes ?? 0) >= 2 * settings.segmentMB << 20, waited < 6000 {
                try await Task.sleep(for: .milliseconds(10))
                waited += 1
            }
        }
        current.state = "following"
    }

    /// Starts storing the RDB that follows as a snapshot.
    private func startBase(_ position: ReplicationLink.Position) {
        abortBase()
        let pipe = BytePipe(limit: 4 << 20)
        let (backup, options) = (backup, backupOptions)
        let replication = SnapshotManifest.Replication(id: position.replicationID, offset: position.offset)
        let task = Task {
            try await backup.run(options) { consume in
                for try await piece in pipe { try await consume(piece) }
                return replication
            }
        }
        base = (pipe, task)
    }

    private func abortBase() {
        guard let base else { return }
        base.pipe.finish(throwing: CancellationError())
        base.task.cancel()
        self.base = nil
    }

    /// The base's own failure, rather than the pipe's.
    private func baseFailure(_ error: any Error) async throws -> any Error {
        guard let base else { return error }
        base.pipe.finish(throwing: error)
        self.base = nil
        do { _ = try await base.task.value } catch { return error }
        return error
    }

    private func sealIfDue() async throws {
        guard let open, base == nil else { return }
        let now = Self.nowMs()
        guard now - open.openedAt >= Int64(settings.segmentSeconds) * 1000 || open.bytes >= settings.segmentMB << 20
        else { return }
        try await seal(closedAt: now)
    }

    /// Stores the open segment, closed at `closedAt`, and opens the next one where it ends.
    private func seal(closedAt: Int64) async throws {
        guard let sealing = open, base == nil else { return }
        let name = StreamSegment.Name(
            replicationID: sealing.replicationID, startOffset: sealing.startOffset, endOffset: sealing.endOffset,
            openedAt: sealing.openedAt, closedAt: max(closedAt, sealing.openedAt))
        open = Open(
            replicationID: sealing.replicationID, startOffset: sealing.endOffset, openedAt: name.closedAt,
            startDB: currentDB)
        let segment = StreamSegment(name: name, startDB: sealing.startDB, records: sealing.records)
        let key = try keys.current()
        let stored = try await segment.stored(node: node.identity, key: key)
        try await store.put(
            StreamSegment.key(node.identity, name, encrypted: key != nil), bytes: stored,
            options: PutOptions(sizeHint: Int64(stored.readableBytes)))
        resume = (
            ReplicationLink.Position(replicationID: name.replicationID, offset: name.endOffset), currentDB,
            name.closedAt
        )
        current.storedOffset = name.endOffset
        current.storedUntil = PointInTimeArchive.date(name.closedAt)
        current.segmentsStored += 1
        logger.debug(
            "point-in-time archive: stored \(name) (\(sealing.records.count) commands, \(stored.readableBytes) bytes)")
    }

    /// Where the newest stored segment ends, and the database selected there (read from the segment).
    private func lastStored() async throws -> (position: ReplicationLink.Position, db: Int?, closedAt: Int64)? {
        let archive = PointInTimeArchive(store: store, keys: keys)
        guard
            let newest = try await archive.segments(of: node.identity).max(by: { $0.name.closedAt < $1.name.closedAt })
        else { return nil }
        let segment: StreamSegment
        do {
            segment = try await archive.read(newest, node: node.identity)
        } catch let error as DynokeeperError {
            // A damaged last segment: the stream cannot be continued from it; Redis starts a new one.
            logger.warning("point-in-time archive: \(error); starting a new stream")
            return nil
        }
        var db = segment.startDB
        for record in segment.records { if let selected = Self.selectedDatabase(record.command) { db = selected } }
        return (
            ReplicationLink.Position(replicationID: newest.name.replicationID, offset: newest.name.endOffset), db,
            newest.name.closedAt
        )
    }

    /// The database `raw` selects when it is a `SELECT`.
    static func selectedDatabase(_ raw: ByteBuffer) -> Int? {
        var buffer = raw
        guard case .array(let items?)? = try? RESPParser().parse(&buffer), items.count == 2,
            case .bulkString(let name?) = items[0], String(buffer: name).lowercased() == "select",
            case .bulkString(let argument?) = items[1]
        else { return nil }
        return Int(String(buffer: argument))
    }

    static func nowMs() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) }
}
