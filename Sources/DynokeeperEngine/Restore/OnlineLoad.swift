import Foundation
import Logging
import NIOCore
import ObjectStorage
import RedisClient
import Synchronization

/// Loads an RDB snapshot into the node's running Redis while it downloads (`restore.method: online`):
/// dynokeeper serves the RDB to Redis as a master serves a replica (`REPLICAOF` dynokeeper), Redis parses it
/// straight from the socket into a separate data set (`repl-diskless-load swapdb`) and swaps it in only once it
/// loaded whole; then `REPLICAOF NO ONE`.
///
/// The last bytes are held back until the whole download's size and SHA-256 are checked: without them Redis
/// cannot finish the load, so a damaged or truncated object makes the link close and Redis keep its old data.
struct OnlineLoad {
    let connector: RedisConnector
    let downloader: SnapshotDownloader
    let logger: Logger
    /// How long Redis may take to load the data once every byte is sent.
    var loadTimeout: Duration = .seconds(3600)

    /// How many bytes of the download may wait for Redis to take them.
    static let readAhead = 8 << 20

    /// What the load changes in Redis's configuration, to be put back afterwards.
    static let changedSettings = ["repl-diskless-load", "masterauth"]

    /// Refuses a Redis that online loading would disturb or cannot serve (or that would not let dynokeeper put it
    /// back on its own afterwards); returns the settings to put back.
    static func check(_ redis: RedisConnection) async throws -> [String: String] {
        let info = try await redis.info("replication")
        guard info["role"] == "master" else {
            throw DynokeeperError.snapshot(
                "restore.method online makes Redis a replica of dynokeeper for the load, and this Redis is itself a replica (of \(info["master_host"] ?? "?"):\(info["master_port"] ?? "?")): use restore.method files; nothing was touched"
            )
        }
        guard let load = try await redis.configGet("repl-diskless-load") else {
            throw DynokeeperError.snapshot(
                "this Redis has no repl-diskless-load (Redis 6 or later has it): use restore.method files; nothing was touched"
            )
        }
        for name in ["masterauth", "masteruser"] {
            if let value = try await redis.configGet(name), !value.isEmpty {
                throw DynokeeperError.snapshot(
                    "this Redis has \(name) set, which an online restore would have to replace for a while: use restore.method files; nothing was touched"
                )
            }
        }
        // Both are no-ops here, and prove the ACL allows what the end of the load (or a rollback) needs.
        do {
            try await redis.send(["REPLICAOF", "NO", "ONE"])
            try await redis.send(["CONFIG", "SET", "repl-diskless-load", load])
        } catch let error as RedisError {
            throw DynokeeperError.snapshot(
                "an online restore needs REPLICAOF and CONFIG SET, and Redis refused them (\(error)): grant +replicaof +config|set, or use restore.method files; nothing was touched"
            )
        }
        return ["repl-diskless-load": load, "masterauth": ""]
    }

    /// Puts Redis back on its own: no longer a replica, its settings as they were. Safe to repeat; each setting is
    /// put back even when another one fails (the first failure is thrown at the end).
    static func detach(_ redis: RedisConnection, settings: [String: String]) async throws {
        var failure: (any Error)?
        do {
            if try await redis.info("replication")["role"] != "master" {
                // A load that was cut off takes Redis a moment to abandon; until then it answers LOADING.
                let deadline = ContinuousClock.now + .seconds(60)
                while true {
                    do {
                        try await redis.send(["REPLICAOF", "NO", "ONE"])
                        break
                    } catch RedisError.server(_, let message) where message.hasPrefix("LOADING") && .now < deadline {
                        try await Task.sleep(for: .milliseconds(20))
                    }
                }
            }
        } catch {
            failure = error
        }
        for name in changedSettings.sorted() {
            guard let value = settings[name] else { continue }
            do { try await redis.send(["CONFIG", "SET", name, value]) } catch { failure = failure ?? error }
        }
        if let failure { throw failure }
    }

    /// What follows the RDB on the link (a point-in-time restore's archived commands), applied by Redis as a
    /// replica applies its master's: as they were recorded, expiries included (a replica neither drops keys whose
    /// time has passed nor refuses a past expiry; they go once it is on its own again).
    struct Continuation: Sendable {
        /// Writes the commands with `send`, calls `reached` with the bytes written so far once it has written those
        /// up to the checkpoint, and returns how many bytes it wrote.
        var write:
            @Sendable (
                _ send: @escaping @Sendable (ByteBuffer) async throws -> Void,
                _ reached: @escaping @Sendable (Int64) async throws -> Void
            ) async throws -> Int64
        /// The key counts Redis must hold at the checkpoint (checked while it is a replica, which expires nothing).
        var keyspace: [String: RestoreJournal.KeyCount]? = nil
    }

    /// Streams `file` into Redis. `beforeLastBytes` runs once the download is verified and just before the
    /// bytes that let Redis finish (from then on Redis may hold the new data).
    /// - Parameters:
    ///   - copy: Where to write the RDB as well, flushed to disk (it becomes Redis's RDB file afterwards,
    ///     which saves a BGSAVE of what Redis has just loaded).
    ///   - continuation: Commands to apply after the RDB.
    /// - Returns: The `run_id` of the Redis that loaded the data.
    func run(
        _ file: RestoreSource.File, settings: [String: String], copy: String?, continuation: Continuation? = nil,
        beforeLastBytes: @escaping @Sendable () async throws -> Void
    ) async throws -> String {
        let body = try await downloader.open(file)
        var opened: LocalFileWriter?
        if let copy {
            try await LocalFileSystem.remove(copy)
            opened = try await LocalFileWriter.create(copy, mode: 0o600, direct: true)
        }
        let (downloader, writer) = (downloader, opened)
        do {
            return try await load(size: file.size, settings: settings, continuation: continuation) { replica in
                // To Redis and to the copy at once.
                @Sendable func send(_ chunk: ByteBuffer) async throws {
                    guard let writer else { return try await replica.write(chunk) }
                    async let written: Void = writer.write(chunk)
                    try await replica.write(chunk)
                    try await written
                }
                try await SnapshotDownloader.reading(file) {
                    // Downloading, decompressing and hashing run ahead of Redis (Redis would otherwise wait for each
                    // chunk to be made, and the download for Redis to take each one).
                    try await BytePipe.readingAhead(body, limit: Self.readAhead) { chunks in
                        // One chunk is always held back: the last one goes once the whole file is checked.
                        var held: ByteBuffer?
                        for try await chunk in chunks {
                            if let previous = held { try await send(previous) }
                            held = chunk
                        }
                        try downloader.check(file, body.digest)
                        try await beforeLastBytes()
                        if let held { try await send(held) }
                    }
                    try await writer?.sync()
                }
            }
        } catch RedisError.connectionClosed(let command) where command == RDBFeed.transfer {
            // Redis noticed before the SHA-256 could: it exits on an RDB it cannot parse.
            throw DynokeeperError.snapshot(
                "Redis \(connector.address) dropped the replication link while it loaded \(file.key): Redis exits when the RDB it loads is damaged (its log then says why, such as \"Internal error in RDB reading\"), or it was stopped; if its log names damage, check the snapshot with dynokeeper verify"
            )
        }
    }

    /// Loads the RDB file at `path` (already checked) into Redis over the replication link, then `continuation`.
    /// - Returns: The `run_id` of the Redis that loaded the data.
    func run(rdb path: String, settings: [String: String], continuation: Continuation?) async throws -> String {
        let file = try await LocalFile.open(path)
        return try await load(size: file.size, settings: settings, continuation: continuation) { replica in
            for try await chunk in file.chunks() { try await replica.write(chunk) }
        }
    }

    /// Serves an RDB of `size` bytes (written by `rdb`) to Redis as its master, then `continuation`; waits until
    /// Redis has loaded it and applied every command, and puts it back on its own.
    private func load(
        size: Int64, settings: [String: String], continuation: Continuation?,
        rdb: @escaping @Sendable (RDBFeed.Writer) async throws -> Void
    ) async throws -> String {
        try await connector.withConnection { redis in
            let host = redis.localHost ?? "127.0.0.1"
            // Only the Redis told to use it as its masterauth gets the data.
            let password = (0..<4).map { _ in String(UInt64.random(in: .min ... .max), radix: 16) }.joined()
            let address = connector.address
            // A run that was killed may have left Redis a replica of a dead port, abandoning a load: on its own and
            // done loading first.
            try await Self.detach(redis, settings: settings)
            try await Self.waitUntilNotLoading(redis, address: address, timeout: loadTimeout)
            let errorsBefore = try await redis.info("stats").int("total_error_replies") ?? 0
            let written = Mutex<Int64>(0)
            do {
                try await redis.send(["CONFIG", "SET", "repl-diskless-load", "swapdb"])
                try await redis.send(["CONFIG", "SET", "masterauth", password])
                let (logger, loadTimeout) = (logger, loadTimeout)
                try await RDBFeed.serve(
                    host: host, password: password, size: size, logger: logger,
                    listening: { port in
                        logger.info("Redis \(address) loads the data from dynokeeper at \(host):\(port) (REPLICAOF)")
                        try await redis.send(["REPLICAOF", host, String(port)])
                    },
                    feed: { replica in
                        try await rdb(replica)
                        if let continuation {
                            let bytes = try await continuation.write({ try await replica.write($0) }) { bytes in
                                // The data at the checkpoint, before the commands after it.
                                guard let expected = continuation.keyspace else { return }
                                try await Self.waitForLoad(
                                    redis, address: address, timeout: loadTimeout, applied: bytes
                                ) {
                                    // Nothing to send while Redis loads: an empty write tells the feed it is alive.
                                    try await replica.write(ByteBuffer())
                                }
                                try Self.check(try await redis.info("keyspace").keyspace, against: expected)
                            }
                            written.withLock { $0 = bytes }
                        }
                    },
                    loaded: {
                        try await Self.waitForLoad(
                            redis, address: address, timeout: loadTimeout,
                            applied: continuation == nil ? nil : written.withLock { $0 })
                    })
                try await Self.detach(redis, settings: settings)
                if continuation != nil {
                    let errors = (try await redis.info("stats").int("total_error_replies") ?? 0) - errorsBefore
                    guard errors <= 0 else {
                        throw DynokeeperError.snapshot(
                            "Redis refused \(errors) of the archived commands (its log says which: \"This replica is sending an error to its master\"): the data is not what the stream was recorded against"
                        )
                    }
                }
                return try await redis.info("server")["run_id"] ?? ""
            } catch {
                do { try await Self.detach(redis, settings: settings) } catch let detachError {
                    switch detachError {
                    case RedisError.connectionClosed, RedisError.connectionFailed:
                        // Redis went away (it exits on a damaged RDB): the rollback starts it again.
                        logger.notice("Redis is gone after the failed load (\(detachError))")
                    default:
                        logger.error("could not put Redis back on its own after the failed load: \(detachError)")
                    }
                }
                throw error
            }
        }
    }

    /// Refuses key counts other than those Redis had at the moment restored to.
    static func check(_ keyspace: [Int: RedisInfo.Keyspace], against expected: [String: RestoreJournal.KeyCount]) throws
    {
        let found = Dictionary(uniqueKeysWithValues: keyspace.map { ("db\($0.key)", $0.value) })
        for db in Set(found.keys).union(expected.keys).sorted() {
            let (has, had) = (found[db], expected[db])
            guard has?.keys ?? 0 == had?.keys ?? 0, has?.expires ?? 0 == had?.expires ?? 0 else {
                throw DynokeeperError.snapshot(
                    "after the archived commands \(db) holds \(has?.keys ?? 0) keys (\(has?.expires ?? 0) with a TTL); Redis held \(had?.keys ?? 0) (\(had?.expires ?? 0)) at that moment"
                )
            }
        }
    }

    /// Waits until Redis is not loading (a load it abandons takes it a moment).
    static func waitUntilNotLoading(_ redis: RedisConnection, address: RedisAddress, timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        repeat {
            let info = try await redis.info("persistence")
            if info.int("loading") == 0 && info.int("async_loading") ?? 0 == 0 { return }
            try await Task.sleep(for: .milliseconds(20))
        } while ContinuousClock.now < deadline
        throw DynokeeperError.snapshot("Redis \(address) kept loading for \(timeout)")
    }

    /// Waits until Redis reports the sync done and the data loaded.
    /// - Parameters:
    ///   - applied: Also wait until Redis has applied this many bytes of commands after the RDB.
    ///   - whileWaiting: Runs at each check that finds it not done yet.
    static func waitForLoad(
        _ redis: RedisConnection, address: RedisAddress, timeout: Duration, applied: Int64? = nil,
        whileWaiting: () async throws -> Void = {}
    ) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let info = try await redis.info()
            if info["master_link_status"] == "up", info.int("master_sync_in_progress") == 0, info.int("loading") == 0,
                info.int("async_loading") ?? 0 == 0,
                applied.map({ bytes in info.int("master_repl_offset").map { Int64($0) >= bytes } ?? false }) ?? true
            {
                return
            }
            try await whileWaiting()
            try await Task.sleep(for: .milliseconds(20))
        }
        throw DynokeeperError.snapshot(
            "Redis \(address) did not finish loading the data\(applied == nil ? "" : " and applying the archived commands") within \(timeout)"
        )
    }
}
