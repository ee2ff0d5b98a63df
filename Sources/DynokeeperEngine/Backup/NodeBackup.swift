package import DynokeeperConfiguration
package import Foundation
package import Logging
import NIOCore
package import ObjectStorage
import RedisClient
import Synchronization
import Zstd

/// Takes one node's backup: makes Redis persist, streams the files through zstd and SHA-256 into the
/// store under the node's snapshot folder, and writes the manifest last.
///
/// A failure leaves no manifest, and the objects already uploaded are deleted (best effort): an incomplete
/// snapshot is never offered for restore.
package struct NodeBackup: Sendable {
    package struct Options: Sendable {
        package var type: DynokeeperConfiguration.Backup.PersistenceType
        package var compression: DynokeeperConfiguration.Backup.Compression
        package var compressionLevel: Int
        /// The snapshot id to use (a ring backup gives every node the same); the start time by default.
        package var snapshotID: SnapshotID?
        /// How an RDB backup gets the RDB (`backup.method`).
        package var method: DynokeeperConfiguration.Backup.Method = .file
        /// The key the objects are encrypted with; set by ``NodeBackup/run(_:)`` from ``NodeBackup/keys``.
        var encryptionKey: SnapshotKeyring.Key?
        /// Also write the day's object of Dynomite-manager's layout (`backup.format: dynomite-manager`).
        package var dynomiteManagerCopy = false
        /// Leave Redis's `rdbcompression` as it is for a streamed RDB (`backup.keep_redis_lzf`); see ``LZFPause``.
        package var keepRedisLZF = false

        package init(
            type: DynokeeperConfiguration.Backup.PersistenceType,
            compression: DynokeeperConfiguration.Backup.Compression = .zstd,
            compressionLevel: Int = 1, snapshotID: SnapshotID? = nil
        ) {
            self.type = type
            self.compression = compression
            self.compressionLevel = compressionLevel
            self.snapshotID = snapshotID
        }

        package init(
            _ backup: DynokeeperConfiguration.Backup, type: DynokeeperConfiguration.Backup.PersistenceType? = nil
        ) {
            self.init(
                type: type ?? backup.type, compression: backup.compression, compressionLevel: backup.compressionLevel)
            method = backup.method
            keepRedisLZF = backup.keepRedisLZF
            dynomiteManagerCopy = backup.format == .dynomiteManager && (type ?? backup.type) == .rdb
        }
    }

    /// What a backup did.
    package struct Report: Sendable {
        package var manifest: SnapshotManifest
        /// Where the snapshot is, such as `s3://bucket/prefix/cluster/dc1/rack1/0/20261124T020000Z/`.
        package var location: String
        package var saveDuration: Duration
        package var uploadDuration: Duration
    }

    package let node: NodeSettings
    package let connector: RedisConnector
    package let store: any ObjectStore
    package let dataDirectory: String?
    package let logger: Logger
    package let progress: (any ProgressReporter)?
    let now: @Sendable () -> Date
    /// The key new snapshots are encrypted with (`encryption.key_file`); in clear when it has none.
    package var keys = SnapshotKeyring.none
    /// Where the day of Dynomite-manager's object begins (`restore.timezone`).
    package var dynomiteManagerTimeZone = TimeZone(identifier: "UTC")!
    /// dynokeeper's state folder, where a streamed backup marks that it turned Redis's LZF off (``LZFPause``); without
    /// it, LZF stays as it is.
    package var stateFolder: (@Sendable () async throws -> String)?

    /// - Parameters:
    ///   - node: The node's identity and Redis address.
    ///   - connector: Connects to its Redis.
    ///   - store: Where snapshots go.
    ///   - dataDirectory: Overrides Redis's `dir` (`redis.data_dir`).
    ///   - logger: Where steps are logged.
    ///   - progress: Receives transfer progress.
    ///   - now: The clock.
    package init(
        node: NodeSettings, connector: RedisConnector, store: any ObjectStore, dataDirectory: String?, logger: Logger,
        progress: (any ProgressReporter)? = nil, now: @escaping @Sendable () -> Date = Date.init
    ) {
        self.node = node
        self.connector = connector
        self.store = store
        self.dataDirectory = dataDirectory
        self.logger = logger
        self.progress = progress
        self.now = now
    }

    package func run(_ options: Options) async throws -> Report {
        try await run(options) { options, id, prefix, startedAt, uploaded in
            try await connector.withConnection { redis in
                try await take(options, id: id, prefix: prefix, startedAt: startedAt, redis: redis, uploaded: &uploaded)
            }
        }
    }

    /// A piece-by-piece source of an RDB: it hands each piece to its argument, in order, and returns the
    /// replication position the RDB was taken at.
    typealias RDBSource =
        @Sendable (
            _ consume: @escaping @Sendable (ByteBuffer) async throws -> Void
        ) async throws -> SnapshotManifest.Replication?

    /// Takes a snapshot of an RDB that `source` hands over as it arrives (the full resynchronisation of the
    /// point-in-time archiver's replication link): stored, counted and recorded as a streamed backup.
    func run(_ options: Options, rdbFrom source: @escaping RDBSource) async throws -> Report {
        try await run(options) { options, id, prefix, startedAt, uploaded in
            let version = try await connector.withConnection { try await $0.info("server").version ?? "unknown" }
            return try await stream(
                options, id: id, prefix: prefix, startedAt: startedAt, version: version, uploaded: &uploaded,
                source: source)
        }
    }

    /// Picks the snapshot id, removes what an earlier incomplete snapshot of that id left, runs `body`, and removes
    /// what it uploaded when it fails.
    private func run(
        _ options: Options,
        _ body: (Options, SnapshotID, String, Date, inout [String]) async throws -> Report
    ) async throws -> Report {
        var options = options
        // Read before Redis is asked for anything: a missing key file fails the backup at once.
        options.encryptionKey = try keys.current()
        let startedAt = now()
        var id = options.snapshotID ?? SnapshotID(date: startedAt)
        while try await store.head(SnapshotLayout.manifestKey(node.identity, id)) != nil {
            // An id asked for is taken: refuse. One from the clock: a backup already started this second, take
            // the next free second.
            guard options.snapshotID == nil, id.date < startedAt.addingTimeInterval(60) else {
                throw DynokeeperError.snapshot(
                    "snapshot \(id) of node \(node.identity) already exists in \(store.location)")
            }
            id = SnapshotID(date: id.date.addingTimeInterval(1))
        }
        let prefix = SnapshotLayout.snapshotPrefix(node.identity, id)
        let leftovers = try await store.listAll(prefix: prefix).map(\.key)
        if !leftovers.isEmpty {
            logger.info("removing \(leftovers.count) object(s) of an earlier incomplete snapshot \(id)")
            try await store.delete(leftovers)
        }

        var uploaded: [String] = []
        do {
            return try await body(options, id, prefix, startedAt, &uploaded)
        } catch {
            if !uploaded.isEmpty {
                logger.warning("backup failed; removing the \(uploaded.count) object(s) it uploaded")
                // In a task of its own, so that it runs even when the backup was cancelled; for 15 s at most, so that
                // a store that died does not hold the failure back (gc removes what is left).
                let store = store, logger = logger, keys = uploaded
                await Task {
                    await withTaskGroup(of: Bool.self) { group in
                        group.addTask {
                            do { try await store.delete(keys) } catch {
                                logger.error(
                                    "could not remove the incomplete snapshot's objects under \(prefix): \(error); without a manifest they are never restored, and dynokeeper gc removes them after a day"
                                )
                            }
                            return true
                        }
                        group.addTask {
                            try? await Task.sleep(for: .seconds(15))
                            return false
                        }
                        if await group.next() == false {
                            logger.error(
                                "gave up removing the incomplete snapshot's objects under \(prefix) after 15 s; without a manifest they are never restored, and dynokeeper gc removes them after a day"
                            )
                        }
                        group.cancelAll()
                    }
                }.value
            }
            throw error
        }
    }

    private func take(
        _ options: Options, id: SnapshotID, prefix: String, startedAt: Date, redis: RedisConnection,
        uploaded: inout [String]
    ) async throws -> Report {
        let clock = ContinuousClock()
        let version = try await redis.info("server").version ?? "unknown"
        let persistence = RedisPersistence(redis: redis, dataDirectory: dataDirectory, logger: logger)
        let state = try? await stateFolder?()
        if let state { await LZFPause.mend(redis, stateFolder: state, logger: logger) }

        var method = options.method
        // Dynomite-manager's copy is the RDB file itself: BGSAVE writes it.
        if options.dynomiteManagerCopy { method = .file }
        // Read once: for auto's choice, and for whether a stream may turn LZF off.
        var sync: DisklessSync?
        if options.type == .rdb && method == .auto {
            let read = try await DisklessSync.read(redis)
            sync = read
            if let reason = Self.reasonNotToStream(read) {
                logger.info("taking the RDB with BGSAVE rather than over the replication link: \(reason)")
                method = .file
            } else {
                logger.info("taking the RDB over the replication link: Redis streams it without a file")
            }
        }
        if options.type == .rdb && method != .file {
            do {
                let (address, logger) = (connector.address, logger)
                let credentials = try connector.credentials()
                var pause: LZFPause?
                if !options.keepRedisLZF, let state {
                    // A `stream` backup has not read it yet; unreadable, LZF stays as it is.
                    if sync == nil { sync = try? await DisklessSync.read(redis) }
                    if let sync { pause = await LZFPause.begin(redis, sync: sync, stateFolder: state, logger: logger) }
                }
                let report: Report
                do {
                    report = try await stream(
                        options, id: id, prefix: prefix, startedAt: startedAt, version: version, uploaded: &uploaded
                    ) { [pause] consume in
                        let summary = try await RDBTransfer.receive(
                            from: address, credentials: credentials, logger: logger
                        ) { chunk in
                            // The first byte comes from the fork, which keeps the setting it started with.
                            await pause?.end()
                            try await consume(chunk)
                        }
                        return summary.position.map(SnapshotManifest.Replication.init)
                    }
                } catch {
                    await pause?.end()
                    throw error
                }
                await pause?.end()
                return report
            } catch let error as RedisError where options.method == .auto && error.refusesReplication {
                logger.notice(
                    "Redis \(connector.address) does not hand its RDB to a replica (\(error)): taking it with BGSAVE")
            }
        }
        logger.info(
            "asking Redis \(connector.address) for a fresh \(options.type == .rdb ? "RDB (BGSAVE)" : "AOF (BGREWRITEAOF)")"
        )
        progress?.step(options.type == .rdb ? "BGSAVE" : "BGREWRITEAOF")
        let saveStart = clock.now
        var trigger: RedisPersistence.Trigger
        var files: [RedisPersistence.DataFile]
        var aofManifest: (directory: String, name: String, content: String)?
        switch options.type {
        case .rdb:
            trigger = try await persistence.save()
            files = [try await persistence.rdbFile()]
        case .aof:
            trigger = try await persistence.rewrite()
            (files, aofManifest, trigger.keyspace) = try await persistence.aofFiles()
        }
        // The RDB, or the AOF's RDB base.
        let rdbFile = options.type == .rdb ? files.first : files.first { $0.name.hasSuffix(".base.rdb") }
        var rdbVersion: Int?
        if let rdbFile { rdbVersion = RDBVersion.parse(header: try await rdbFile.file.prefix(9)) }
        let saveDuration = clock.now - saveStart

        let uploadStart = clock.now
        var stored: [SnapshotManifest.File] = []
        for file in files {
            let entry = try await upload(
                name: file.name, size: file.file.size, body: file.file.chunks(), id: id, prefix: prefix,
                options: options)
            uploaded.append(prefix + entry.object)
            stored.append(entry)
        }
        if options.dynomiteManagerCopy, let rdbFile, options.type == .rdb {
            // Before the manifest: a backup whose copy failed is a failed backup, and leaves nothing new.
            let key = SnapshotLayout.dynomiteManagerKey(
                node.identity, day: startedAt, timeZone: dynomiteManagerTimeZone)
            progress?.step("write Dynomite-manager's object")
            _ = try await store.put(key, body: rdbFile.file.chunks(), options: PutOptions(sizeHint: rdbFile.file.size))
            logger.info("stored Dynomite-manager's object \(key) (\(rdbFile.file.size) bytes, uncompressed)")
        }
        if let aofManifest {
            let content = ByteBuffer(string: aofManifest.content)
            let entry = try await upload(
                name: "\(aofManifest.directory)/\(aofManifest.name)", size: Int64(content.readableBytes),
                body: ByteStream(buffers: [content]), id: id, prefix: prefix, options: options)
            uploaded.append(prefix + entry.object)
            stored.append(entry)
        }
        let uploadDuration = clock.now - uploadStart

        return try await complete(
            options, id: id, prefix: prefix, startedAt: startedAt, version: version, files: stored,
            aofManifest: aofManifest.map { ($0.directory, $0.name) }, keyspace: trigger.keyspace, exact: trigger.exact,
            rdbVersion: rdbVersion, method: options.type == .rdb ? .file : nil,
            replication: options.type == .rdb ? trigger.replication : nil, saveDuration: saveDuration,
            uploadDuration: uploadDuration)
    }

    /// Writes the manifest once every file is stored (and still there): the snapshot is then complete.
    private func complete(
        _ options: Options, id: SnapshotID, prefix: String, startedAt: Date, version: String,
        files stored: [SnapshotManifest.File], aofManifest: (directory: String, name: String)?,
        keyspace: [Int: RedisInfo.Keyspace], exact: Bool, rdbVersion: Int?,
        method: DynokeeperConfiguration.Backup.Method?, replication: SnapshotManifest.Replication?,
        saveDuration: Duration, uploadDuration: Duration
    ) async throws -> Report {
        var manifest = SnapshotManifest(
            format: options.encryptionKey == nil ? 1 : SnapshotManifest.currentFormat, snapshotID: id,
            tool: .init(name: "dynokeeper", version: DynokeeperVersion.current), node: node.identity,
            hostname: ProcessInfo.processInfo.hostName,
            redis: .init(
                version: version, address: connector.address.description, aofDirectory: aofManifest?.directory,
                aofManifest: aofManifest?.name),
            type: options.type,
            compression: .init(
                algorithm: options.compression.rawValue,
                level: options.compression == .zstd ? options.compressionLevel : nil),
            files: stored,
            keyspace: Dictionary(uniqueKeysWithValues: keyspace.map { ("db\($0.key)", $0.value) }),
            keyspaceExact: exact, rdbVersion: rdbVersion, startedAt: startedAt, finishedAt: now(), method: method,
            encryption: options.encryptionKey.map {
                .init(
                    algorithm: ChunkedEncryption.algorithm, keyFingerprint: $0.fingerprint,
                    chunkSize: ChunkedEncryption.defaultChunkSize)
            })
        manifest.replication = replication
        progress?.step("write the manifest")
        // Every file must still be there (a clean-up of the store running meanwhile, or a lifecycle rule, could
        // have removed it): a manifest makes the snapshot complete.
        for file in stored {
            guard let info = try await store.head(prefix + file.object), info.size == file.storedSize else {
                throw DynokeeperError.snapshot(
                    "\(prefix + file.object) is no longer in the store as it was uploaded; no manifest written")
            }
        }
        let json = try SnapshotManifest.encoder.encode(manifest)
        try await store.put(
            prefix + SnapshotLayout.manifestName, bytes: ByteBuffer(bytes: json),
            options: PutOptions(contentType: "application/json"))
        logger.info(
            "snapshot \(id) complete: \(stored.count) file(s), \(manifest.size) bytes, \(manifest.storedSize) stored, in \(store.location)/\(prefix)"
        )
        return Report(
            manifest: manifest, location: "\(store.location)/\(prefix)", saveDuration: saveDuration,
            uploadDuration: uploadDuration)
    }

    /// The RDB from Redis's replication link: compressed, hashed and uploaded as Redis's fork writes it, its keys
    /// counted on the way (exactly those of the snapshot), memory bounded by two pipes.
    private func stream(
        _ options: Options, id: SnapshotID, prefix: String, startedAt: Date, version: String,
        uploaded: inout [String], source: RDBSource
    ) async throws -> Report {
        let clock = ContinuousClock()
        let start = clock.now
        logger.info("taking the RDB of Redis \(connector.address) from its replication link")
        progress?.step("stream the RDB")
        let toUpload = BytePipe(limit: 2 << 20)
        let toCount = BytePipe(limit: 2 << 20)
        let firstByte = Mutex<(at: ContinuousClock.Instant?, header: [UInt8])>((nil, []))
        // Each consumer closes its pipe when it ends, so that a failed upload (or count) stops the link at once
        // rather than leave it waiting for room.
        async let file = {
            defer { toUpload.close() }
            return try await upload(
                name: "dump.rdb", size: nil, body: ByteStream(toUpload), id: id, prefix: prefix, options: options)
        }()
        async let counted = {
            defer { toCount.close() }
            return try await RDBKeyCounter.count(toCount)
        }()
        // Pieces go on in batches of at least 256 KiB: each one wakes two consumers, which costs more than the copy.
        let batch = Mutex(ByteBuffer())
        @Sendable func send(_ bytes: ByteBuffer) async throws {
            try await toUpload.send(bytes)
            try await toCount.send(bytes)
        }
        let replication: SnapshotManifest.Replication?
        do {
            replication = try await source { chunk in
                firstByte.withLock { state in
                    if state.at == nil { state.at = clock.now }
                    if state.header.count < 9 { state.header += chunk.readableBytesView.prefix(9 - state.header.count) }
                }
                let ready: ByteBuffer? = batch.withLock { batch in
                    if batch.readableBytes == 0 && chunk.readableBytes >= Self.streamBatch { return chunk }
                    if batch.capacity == 0 { batch.reserveCapacity(Self.streamBatch + (64 << 10)) }
                    var chunk = chunk
                    batch.writeBuffer(&chunk)
                    guard batch.readableBytes >= Self.streamBatch else { return nil }
                    defer { batch = ByteBuffer() }
                    return batch
                }
                if let ready { try await send(ready) }
            }
            let rest = batch.withLock { $0 }
            if rest.readableBytes > 0 { try await send(rest) }
        } catch {
            toUpload.finish(throwing: error)
            toCount.finish(throwing: error)
            var causes: [any Error] = []
            do { _ = try await file } catch { causes.append(error) }
            do { _ = try await counted } catch { causes.append(error) }
            // A consumer that stopped first says why; the other one only saw the link stop.
            if error is BytePipeClosed, let cause = causes.first(where: { !($0 is BytePipeClosed) }) { throw cause }
            throw error
        }
        toUpload.finish()
        toCount.finish()
        let entry = try await file
        uploaded.append(prefix + entry.object)
        let keyspace = try await counted.mapValues { RedisInfo.Keyspace(keys: $0.keys, expires: $0.expires) }
        let (first, header) = firstByte.withLock { ($0.at ?? clock.now, $0.header) }
        return try await complete(
            options, id: id, prefix: prefix, startedAt: startedAt, version: version, files: [entry], aofManifest: nil,
            keyspace: keyspace, exact: true, rdbVersion: RDBVersion.parse(header: header), method: .stream,
            replication: replication, saveDuration: first - start, uploadDuration: clock.now - first)
    }

    /// Why `backup.method: auto` takes the RDB with BGSAVE on this Redis, `nil` when it streams it.
    ///
    /// Streaming overlaps Redis's save with the upload, but Redis starts a diskless transfer only after
    /// `repl-diskless-sync-delay` (5 s by default, in case more replicas come), unless it is 0 or
    /// `repl-diskless-sync-max-replicas` is 1 with no replica attached. A wait is worth it from about 200 MiB of data per
    /// second of delay (what BGSAVE and the upload take on this project's 2-core benchmark machine); below, BGSAVE.
    /// With `repl-diskless-sync no` Redis writes the file anyway, so there is nothing to overlap.
    static func reasonNotToStream(_ sync: DisklessSync) -> String? {
        guard !sync.writesFile else { return "repl-diskless-sync is no" }
        if sync.startsAtOnce { return nil }
        let dataset = sync.info.int("used_memory_dataset") ?? sync.info.int("used_memory") ?? 0
        guard dataset < sync.delay * 200 << 20 else { return nil }
        return
            "Redis would wait repl-diskless-sync-delay \(sync.delay) s before it streams, longer than a BGSAVE of its \(dataset >> 20) MiB takes (set it to 0 to stream)"
    }

    /// The smallest piece a streamed backup hands to its consumers.
    static let streamBatch = 256 << 10

    /// Streams one file: counted for progress, hashed, compressed, encrypted, stored.
    /// - Parameter size: Its size, when known beforehand (a file); otherwise whatever streamed by.
    private func upload(
        name: String, size: Int64?, body: ByteStream, id: SnapshotID, prefix: String, options: Options
    ) async throws -> SnapshotManifest.File {
        var object = options.compression == .zstd ? name + ".zst" : name
        progress?.step("upload \(name)")
        let digesting = DigestingSequence(ProgressSequence(body, label: name, total: size ?? 0, reporter: progress))
        var stream: ByteStream
        switch options.compression {
        case .zstd: stream = ByteStream(ZstdCompressingSequence(digesting, level: Int32(options.compressionLevel)))
        case .none: stream = ByteStream(digesting)
        }
        if let key = options.encryptionKey {
            object += ChunkedEncryption.objectSuffix
            let context = SnapshotManifest.encryptionContext(id, node.identity, file: name)
            stream = ByteStream(EncryptingSequence(stream, key: key, context: context))
        }
        let info = try await store.put(prefix + object, body: stream, options: PutOptions(sizeHint: size))
        guard let (sha256, count) = digesting.digest.result else {
            throw DynokeeperError.snapshot("\(name): the upload ended before the whole file was read")
        }
        if let size, count != size {
            throw DynokeeperError.snapshot("\(name) changed size while it was read (\(count) of \(size) bytes)")
        }
        logger.info("stored \(name): \(count) bytes as \(info.size)")
        return SnapshotManifest.File(name: name, object: object, size: count, storedSize: info.size, sha256: sha256)
    }
}
