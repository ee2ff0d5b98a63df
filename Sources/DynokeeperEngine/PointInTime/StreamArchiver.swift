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

    /// The segment being filled, its records encoded as a segment holds them (no copy of the link's buffers kept).
    private struct Open {
        var replicationID: String
        var startOffset: Int64
        var openedAt: Int64
        var startDB: Int?
        var records = ByteBuffer()
        var count = 0
        var endOffset: Int64
        /// Where the times of the records since the last marker are: its answer bounds them.
        var unbounded: [Int] = []
        /// The last marker: where the records up to it end, how many they are, its offset, the database then, and
        /// when it was sent (every command before it in the stream ran by then or later, never before).
        var marker: Marker?
        /// The markers' key counts, by offset.
        var checkpoints: [StreamSegment.Checkpoint] = []

        init(replicationID: String, startOffset: Int64, openedAt: Int64, startDB: Int? = nil) {
            self.replicationID = replicationID
            self.startOffset = startOffset
            self.openedAt = openedAt
            self.startDB = startDB
            endOffset = startOffset
        }

        mutating func append(_ record: StreamSegment.Record) {
            unbounded.append(StreamSegment.append(record, to: &records))
            count += 1
            endOffset = record.offset
        }

        /// A marker came (it is the last record): the records since the previous one ran before `answered`.
        mutating func mark(answered: Int64, sent: Int64, db: Int?, keyspace: [String: RestoreJournal.KeyCount]?) {
            if let keyspace { checkpoints.append(.init(offset: endOffset, keyspace: keyspace)) }
            for position in unbounded where records.getInteger(at: position, as: Int64.self)! > answered {
                records.setInteger(answered, at: position)
            }
            unbounded = []
            marker = Marker(end: records.writerIndex, count: count, offset: endOffset, db: db, sent: sent)
        }
    }

    private struct Marker {
        var end: Int
        var count: Int
        var offset: Int64
        var db: Int?
        var sent: Int64
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
    /// Sends the markers and notes when each was sent and answered.
    private let clock = MarkerClock()
    /// This session's markers say it (`<session>:<n>`): a marker of an earlier session that Redis sends again from its
    /// backlog is not taken for one of this session.
    private var session = UInt32.random(in: 1...UInt32.max)
    /// Markers that reached the stream before Redis's answer (with the key counts) came back: their offsets.
    private var unanswered: [Int: Int64] = [:]
    /// Whether markers are sent (`false` once Redis refused one: an ACL without `PUBLISH`).
    private var marking = true
    private var lastReceivedAt: Int64 = 0
    private var current = Status()
    /// Where to continue: the end of the newest stored segment, and the database selected there.
    private var resume: (position: ReplicationLink.Position, db: Int?, closedAt: Int64)?
    private var resumeLoaded = false
    private var base: (pipe: BytePipe, task: Task<NodeBackup.Report, any Error>)?
    private var lock: NodeLock?
    /// Whether Redis answered this session's PSYNC.
    private var followed = false

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
            followed = false
            do {
                try await follow()
                pause = .seconds(1)
            } catch is CancellationError {
                break
            } catch {
                if Task.isCancelled { break }
                // A link that was followed broke: try again soon, as after a first failure.
                if followed { pause = .seconds(1) }
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
        session = UInt32.random(in: 1...UInt32.max)
        clock.start(session: session)
        unanswered = [:]
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
                        try await Task.sleep(for: .milliseconds(50))
                        try await self.sealIfDue()
                    }
                }
                // Ahead of the stream's work: a marker that waits behind a burst bounds it later.
                group.addTask(priority: .high) { try await self.sendMarkers() }
                defer { group.cancelAll() }
                try await group.next()
            }
        } catch {
            await sealAtTheEnd(closedAt: endedAt())
            throw error
        }
        await sealAtTheEnd(closedAt: endedAt())
    }

    /// Up to when the open segment is sure to hold every command, once its link has ended (Redis closed it, went
    /// silent, or the archiver stops): when its last marker was sent; without markers, when the last command came
    /// (never when the end was noticed, which may be much later).
    private func endedAt() -> Int64 {
        guard marking else { return lastReceivedAt }
        return open?.marker?.sent ?? open?.openedAt ?? lastReceivedAt
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
        updateMarkers()
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
            if let resume {
                logger.warning(
                    "point-in-time archive: Redis could not continue the stream from \(resume.position) (its backlog no longer holds it, or it restarted): no restore can reach the moments from \(PointInTimeArchive.format(PointInTimeArchive.date(resume.closedAt))) until the new base is stored; a larger repl-backlog-size bridges longer breaks"
                )
            }
            logger.info(
                "point-in-time archive: Redis starts a new stream \(position) (full resynchronisation); storing its RDB as the base snapshot"
            )
            followed = true
            current.lastError = nil
            currentDB = nil
            startBase(position)
            open = Open(replicationID: position.replicationID, startOffset: position.offset, openedAt: now)
            updateMarkers()
            current.replicationID = position.replicationID
            current.receivedOffset = position.offset
        case .continued(let position):
            releaseLock()
            if let resume, position.replicationID != resume.position.replicationID {
                // Redis restarted and kept its offsets under a new id: no stored base belongs to that id, so a new
                // stream starts, with one.
                self.resume = nil
                throw DynokeeperError.snapshot(
                    "Redis continued the stream under a new replication id (\(position.replicationID)): starting a new stream with a base"
                )
            }
            followed = true
            current.lastError = nil
            logger.info("point-in-time archive: Redis continues the stream \(position)")
            currentDB = resume?.db
            open = Open(
                replicationID: position.replicationID, startOffset: position.offset, openedAt: now, startDB: currentDB)
            updateMarkers()
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
            updateMarkers()
            releaseLock()
            current.base = report.manifest.snapshotID.text
            // The stream is live from here: commands that came during the transfer arrive now.
            open?.openedAt = Self.nowMs()
        case .command(let raw, let name, let offset):
            if name == "select", let db = Self.selectedDatabase(raw) { currentDB = db }
            guard open != nil else { throw DynokeeperError.snapshot("the replication stream started without PSYNC") }
            open!.append(StreamSegment.Record(offset: offset, time: now, command: raw))
            if name == "publish", let number = Self.marker(raw, session: session) {
                let marker = clock.arrived(number)
                // Its answer bounds when the commands before it ran, however late they reach the archiver; one that
                // came before its answer is bounded by its arrival (the link keeps up).
                open!.mark(
                    answered: min(marker?.answered ?? now, now), sent: marker?.sent ?? now, db: currentDB,
                    keyspace: marker?.keyspace)
                if marker?.answered == nil { unanswered[number] = offset }
                takeLateAnswers()
            }
            current.receivedOffset = offset
            // Back-pressure: when segments are not stored as fast as commands come, the link waits (Redis keeps
            // them in the replica's output buffer).
            var waited = 0
            while (open?.records.readableBytes ?? 0) >= (settings.segmentMB + 4) << 20, waited < 6000 {
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
        let replication = SnapshotManifest.Replication(position)
        let task = Task {
            try await backup.run(options) { consume in
                for try await piece in pipe { try await consume(piece) }
                return replication
            }
        }
        base = (pipe, task)
        updateMarkers()
    }

    private func abortBase() {
        guard let base else { return }
        base.pipe.finish(throwing: CancellationError())
        base.task.cancel()
        self.base = nil
        updateMarkers()
    }

    /// The base's own failure, rather than the pipe's.
    private func baseFailure(_ error: any Error) async throws -> any Error {
        guard let base else { return error }
        base.pipe.finish(throwing: error)
        self.base = nil
        updateMarkers()
        do { _ = try await base.task.value } catch { return error }
        return error
    }

    /// Sends a marker every quarter of a second on a connection of its own: `PUBLISH __dynokeeper:pitr <n>`, which
    /// Redis runs in order with the writes and passes on in the stream. Redis answering it bounds when every command
    /// before it ran, so the times recorded stay right when the stream reaches the archiver late (a burst of writes).
    private func sendMarkers() async throws {
        guard marking else { return try await Task.sleep(for: .seconds(86_400 * 365)) }
        while true {
            let redis = try await connector.connect(commandTimeout: .seconds(10))
            let failure = try await redis.closing { redis in
                await clock.run(on: redis, channel: Self.markerChannel, every: .milliseconds(250))
            }
            switch failure {
            case is CancellationError:
                throw failure
            case RedisError.server(_, let message)
            where message.hasPrefix("NOPERM") || message.contains("unknown command"):
                logger.warning(
                    "point-in-time archive: Redis refused the marker PUBLISH (\(message)); times are those at which commands reached dynokeeper (grant +publish and &\(Self.markerChannel) for markers)"
                )
                marking = false
                // Not an end of the session: the link goes on, without markers.
                return try await Task.sleep(for: .seconds(86_400 * 365))
            default:
                // Redis busy (a long command closed the connection, or a script answers BUSY): markers go on, on a
                // new connection.
                try await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// Markers go out while a stream is followed and no base is being stored.
    private func updateMarkers() { clock.setActive(open != nil && base == nil) }

    /// The key counts of markers that reached the stream before their answer: they go with the marker's offset, into
    /// the open segment even when the marker's own was stored meanwhile (a restore looks for checkpoints by offset, a
    /// few segments on).
    private func takeLateAnswers() {
        for (number, offset) in unanswered {
            guard let marker = clock.answer(number) else { continue }
            unanswered[number] = nil
            if let keyspace = marker.keyspace {
                open?.checkpoints.append(.init(offset: offset, keyspace: keyspace))
                open?.checkpoints.sort { $0.offset < $1.offset }
            }
        }
        if unanswered.count > 1000 { unanswered.removeAll() }
    }

    static let markerChannel = "__dynokeeper:pitr"

    /// The number of a marker of `session` (`PUBLISH __dynokeeper:pitr <session>:<n>`), `nil` for other commands.
    static func marker(_ raw: ByteBuffer, session: UInt32) -> Int? {
        var buffer = raw
        guard case .array(let items?)? = try? RESPParser().parse(&buffer), items.count == 3,
            case .bulkString(let channel?) = items[1], String(buffer: channel) == markerChannel,
            case .bulkString(let payload?) = items[2]
        else { return nil }
        let parts = String(buffer: payload).split(separator: ":")
        guard parts.count == 2, UInt32(parts[0]) == session else { return nil }
        return Int(parts[1])
    }

    private func sealIfDue() async throws {
        guard let open, base == nil else { return }
        let now = Self.nowMs()
        guard
            now - open.openedAt >= Int64(settings.segmentSeconds) * 1000
                || open.records.readableBytes >= settings.segmentMB << 20
        else { return }
        if marking {
            // At the last marker: the segment then covers up to when it was sent, whatever the link's delay. A
            // segment full before a marker came (a burst) is stored whole, covering no time of its own.
            if let marker = open.marker {
                try await seal(upTo: marker)
            } else if open.records.readableBytes >= settings.segmentMB << 20 {
                try await seal(closedAt: open.openedAt)
            }
        } else {
            try await seal(closedAt: now)
        }
    }

    /// Stores the open segment up to its last marker, and keeps the commands after it open.
    private func seal(upTo marker: Marker) async throws {
        guard var rest = open else { return }
        var sealing = rest
        sealing.records = rest.records.getSlice(at: rest.records.readerIndex, length: marker.end)!
        sealing.count = marker.count
        sealing.endOffset = marker.offset
        sealing.checkpoints = rest.checkpoints.filter { $0.offset <= marker.offset }
        rest.checkpoints.removeAll { $0.offset <= marker.offset }
        let closedAt = max(marker.sent, rest.openedAt)
        rest.records = ByteBuffer(
            buffer: rest.records.getSlice(at: marker.end, length: rest.records.writerIndex - marker.end)!)
        rest.unbounded = rest.unbounded.map { $0 - marker.end }
        rest.count -= marker.count
        rest.startOffset = marker.offset
        rest.openedAt = closedAt
        rest.startDB = marker.db
        rest.marker = nil
        open = rest
        try await store(sealing, closedAt: closedAt, endDB: marker.db)
    }

    /// Stores the open segment, closed at `closedAt`, and opens the next one where it ends.
    private func seal(closedAt: Int64) async throws {
        guard let sealing = open, base == nil else { return }
        let closedAt = max(closedAt, sealing.openedAt)
        open = Open(
            replicationID: sealing.replicationID, startOffset: sealing.endOffset, openedAt: closedAt,
            startDB: currentDB)
        try await store(sealing, closedAt: closedAt, endDB: currentDB)
    }

    /// Stores a segment, in a task of its own (a stop does not cut a segment in half). When it cannot be stored,
    /// nothing after it is kept either, and the session ends: the next one continues from the last segment stored
    /// (Redis sends the rest again from its backlog), so the archive never has a hole that it does not know about.
    private func store(_ sealing: Open, closedAt: Int64, endDB: Int?) async throws {
        let name = StreamSegment.Name(
            replicationID: sealing.replicationID, startOffset: sealing.startOffset, endOffset: sealing.endOffset,
            openedAt: sealing.openedAt, closedAt: closedAt)
        let (store, node, keys) = (store, node.identity, keys)
        let stored: ByteBuffer
        do {
            stored = try await Task {
                let key = try keys.current()
                let body = try StreamSegment.encode(
                    name: name, startDB: sealing.startDB, count: sealing.count, records: sealing.records,
                    checkpoints: sealing.checkpoints)
                let stored = try await StreamSegment.stored(body, name: name, node: node, key: key)
                try await store.put(
                    StreamSegment.key(node, name, encrypted: key != nil), bytes: stored,
                    options: PutOptions(sizeHint: Int64(stored.readableBytes)))
                return stored
            }.value
        } catch {
            // It may have been stored after all (an answer lost): the next session reads where the store ends.
            open = nil
            updateMarkers()
            resumeLoaded = false
            throw error
        }
        resume = (
            ReplicationLink.Position(replicationID: name.replicationID, offset: name.endOffset), endDB, name.closedAt
        )
        current.storedOffset = name.endOffset
        current.storedUntil = PointInTimeArchive.date(name.closedAt)
        current.segmentsStored += 1
        logger.debug(
            "point-in-time archive: stored \(name) (\(sealing.count) commands, \(stored.readableBytes) bytes)")
    }

    /// Where the newest stored segment ends, and the database selected there (read from the segment).
    private func lastStored() async throws -> (position: ReplicationLink.Position, db: Int?, closedAt: Int64)? {
        let archive = PointInTimeArchive(store: store, keys: keys)
        guard
            let newest = try await archive.segments(of: node.identity).max(by: {
                ($0.name.closedAt, $0.name.endOffset) < ($1.name.closedAt, $1.name.endOffset)
            })
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
