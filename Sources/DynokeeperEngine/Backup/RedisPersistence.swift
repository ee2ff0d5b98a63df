import DynokeeperConfiguration
import Foundation
package import Logging
import ObjectStorage
package import RedisClient

/// Makes Redis write its persistence files and finds them: BGSAVE for RDB, BGREWRITEAOF for AOF
/// (single file before Redis 7, the multi-part set of `appenddirname` since).
package struct RedisPersistence: Sendable {
    let redis: RedisConnection
    /// Overrides Redis's `dir`, for when dynokeeper sees the data folder at another path.
    let dataDirectory: String?
    let logger: Logger
    /// How long a save or rewrite may take in all.
    var timeout: Duration = .seconds(3600)
    var pollInterval: Duration = .milliseconds(50)

    /// - Parameters:
    ///   - redis: The connection to the node's Redis.
    ///   - dataDirectory: Overrides Redis's `dir`.
    ///   - logger: Where waits are reported.
    package init(redis: RedisConnection, dataDirectory: String?, logger: Logger) {
        self.redis = redis
        self.dataDirectory = dataDirectory
        self.logger = logger
    }

    /// The key counts taken right before the save, and whether they match the saved data exactly.
    package struct Trigger: Sendable {
        package var keyspace: [Int: RedisInfo.Keyspace]
        package var exact: Bool
        /// The replication position of the saved data (exact with `exact`), which links an RDB to the archived
        /// command stream.
        package var replication: SnapshotManifest.Replication?
    }

    /// A file to back up, opened so that it reads as it was even if Redis replaces it meanwhile.
    struct DataFile {
        /// The path under the data folder, such as `appendonlydir/appendonly.aof.1.base.rdb`.
        var name: String
        var file: LocalFile
    }

    // MARK: RDB

    /// Runs BGSAVE and waits for it: waits first for a save or rewrite already running, then takes a fresh one.
    package func save() async throws -> Trigger {
        try await run("BGSAVE", finished: { $0.int("rdb_bgsave_in_progress") == 0 }) { info in
            guard info["rdb_last_bgsave_status"] == "ok" else {
                throw DynokeeperError.snapshot(
                    "BGSAVE failed (rdb_last_bgsave_status:\(info["rdb_last_bgsave_status"] ?? "?")): Redis could not write its RDB file; its log says why (often the data folder is not writable or the disk is full)"
                )
            }
        }
    }

    /// Waits for the AOF rewrite Redis starts on its own after it loaded a replica's data, and checks it.
    func waitForAOFRewrite() async throws {
        try await waitForChildren(until: .now + timeout)
        let info = try await redis.info("persistence")
        guard info.int("aof_enabled") == 1, info["aof_last_bgrewrite_status"] == "ok",
            info["aof_last_write_status"] ?? "ok" == "ok"
        else {
            throw DynokeeperError.snapshot(
                "Redis's AOF is not written (aof_enabled:\(info["aof_enabled"] ?? "?"), aof_last_bgrewrite_status:\(info["aof_last_bgrewrite_status"] ?? "?")); its log says why"
            )
        }
    }

    /// Runs a background save or rewrite to its end, retrying when another one starts first.
    ///
    /// `INFO keyspace` and `INFO replication` go in the same write as the command: Redis runs them back to back, so
    /// the counts and the replication offset are those of the fork the command starts (exact for a BGSAVE that started at once; the AOF's incremental
    /// file also takes later writes, so its counts are only close).
    private func run(
        _ command: String, finished: (RedisInfo) -> Bool, check: (RedisInfo) throws -> Void
    ) async throws -> Trigger {
        let deadline = ContinuousClock.now + timeout
        for attempt in 1...10 {
            try await waitForChildren(until: deadline)
            let answers: [RESPValue]
            do {
                answers = try await redis.sendPipelined([["INFO", "keyspace"], ["INFO", "replication"], [command]])
            } catch RedisError.server(_, let message)
                where message.contains("in progress") || message.contains("child process")
            {
                logger.info("another save or rewrite started meanwhile; waiting for it (attempt \(attempt))")
                continue
            }
            let keyspace = RedisInfo(parsing: answers[0].string ?? "").keyspace
            let reply = answers[2].string ?? ""
            let replication = RedisInfo(parsing: answers[1].string ?? "")
            logger.debug("\(command): \(reply)")
            try await waitUntil(deadline, what: command, finished)
            try check(try await redis.info("persistence"))
            let exact = command == "BGSAVE" && reply.contains("started")
            return Trigger(
                keyspace: keyspace, exact: exact,
                replication: exact ? SnapshotManifest.Replication(replication) : nil)
        }
        throw DynokeeperError.snapshot("could not start \(command): other saves or rewrites kept starting first")
    }

    /// The RDB file Redis has just written.
    func rdbFile() async throws -> DataFile {
        let directory = try await dataFolder()
        guard let name = try await redis.configGet("dbfilename"), !name.isEmpty else {
            throw DynokeeperError.snapshot("Redis did not say its dbfilename")
        }
        do {
            return DataFile(name: name, file: try await LocalFile.open(directory + "/" + name))
        } catch let error as LocalFileError {
            // A cancelled backup (the daemon stopping) is a cancellation, not a file that cannot be read.
            try Task.checkCancellation()
            throw DynokeeperError.snapshot(
                "the RDB file Redis wrote cannot be read: \(error) (if dynokeeper sees Redis's data folder at another path, set redis.data_dir)"
            )
        }
    }

    // MARK: AOF

    /// Checks that AOF is on, runs BGREWRITEAOF and waits for it.
    package func rewrite() async throws -> Trigger {
        guard try await redis.configGet("appendonly") == "yes" else {
            throw DynokeeperError.snapshot(
                "an AOF backup needs appendonly yes, and this Redis has appendonly no: take an RDB backup (--type rdb) or enable AOF"
            )
        }
        return try await run(
            "BGREWRITEAOF", finished: { $0.int("aof_rewrite_in_progress") == 0 && $0.int("aof_rewrite_scheduled") == 0 }
        ) { info in
            guard info["aof_last_bgrewrite_status"] == "ok", info["aof_last_write_status"] ?? "ok" == "ok" else {
                throw DynokeeperError.snapshot(
                    "BGREWRITEAOF failed (aof_last_bgrewrite_status:\(info["aof_last_bgrewrite_status"] ?? "?"), aof_last_write_status:\(info["aof_last_write_status"] ?? "?")); Redis's log says why"
                )
            }
        }
    }

    /// The AOF files, opened: for Redis 7+ the base and incremental files its manifest lists, plus the
    /// manifest itself (rewritten without history entries); before Redis 7 the single appendonly file.
    ///
    /// The key counts are taken right before the files are opened: Redis writes every command it has answered
    /// to the AOF before it answers the next one, so the counts match the files but for writes that land in the
    /// moment between (the files keep growing; only the bytes present when opened are read).
    func aofFiles() async throws -> (
        files: [DataFile], manifest: (directory: String, name: String, content: String)?,
        keyspace: [Int: RedisInfo.Keyspace]
    ) {
        let keyspace = try await redis.info("keyspace").keyspace
        let (files, manifest) = try await openAOFFiles()
        return (files, manifest, keyspace)
    }

    private func openAOFFiles() async throws -> (
        files: [DataFile], manifest: (directory: String, name: String, content: String)?
    ) {
        let directory = try await dataFolder()
        guard let fileName = try await redis.configGet("appendfilename"), !fileName.isEmpty else {
            throw DynokeeperError.snapshot("Redis did not say its appendfilename")
        }
        guard let folder = try await redis.configGet("appenddirname"), !folder.isEmpty else {
            do {
                return ([DataFile(name: fileName, file: try await LocalFile.open(directory + "/" + fileName))], nil)
            } catch let error as LocalFileError {
                try Task.checkCancellation()
                throw DynokeeperError.snapshot("the AOF file cannot be read: \(error)")
            }
        }
        // A rewrite between reading the manifest and opening its files removes them: read again then.
        var lastError: any Error = DynokeeperError.snapshot("the AOF files kept changing")
        for _ in 0..<5 {
            let manifestName = fileName + ".manifest"
            let manifestPath = "\(directory)/\(folder)/\(manifestName)"
            guard let data = FileManager.default.contents(atPath: manifestPath),
                let text = String(data: data, encoding: .utf8)
            else {
                throw DynokeeperError.snapshot(
                    "cannot read the AOF manifest \(manifestPath) (if dynokeeper sees Redis's data folder at another path, set redis.data_dir)"
                )
            }
            let entries = try AOFManifest.parse(text, path: manifestPath)
            do {
                var files: [DataFile] = []
                for entry in entries where entry.type != "h" {
                    files.append(
                        DataFile(
                            name: "\(folder)/\(entry.file)",
                            file: try await LocalFile.open("\(directory)/\(folder)/\(entry.file)")))
                }
                return (files, (folder, manifestName, AOFManifest.withoutHistory(text)))
            } catch let error as LocalFileError {
                try Task.checkCancellation()
                lastError = error
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        throw DynokeeperError.snapshot("cannot open the AOF files: \(lastError)")
    }

    // MARK: Waiting

    func dataFolder() async throws -> String {
        if let dataDirectory { return dataDirectory }
        guard let directory = try await redis.configGet("dir"), !directory.isEmpty else {
            throw DynokeeperError.snapshot("Redis did not say its data folder (CONFIG GET dir); set redis.data_dir")
        }
        return directory
    }

    /// Waits until no save or rewrite runs.
    func waitForChildren(until deadline: ContinuousClock.Instant) async throws {
        try await waitUntil(deadline, what: "the save or rewrite already running") { info in
            info.int("rdb_bgsave_in_progress") == 0 && info.int("aof_rewrite_in_progress") == 0
                && (info.int("aof_rewrite_scheduled") ?? 0) == 0
        }
    }

    func waitUntil(
        _ deadline: ContinuousClock.Instant, what: String, _ condition: (RedisInfo) -> Bool
    ) async throws {
        while true {
            let info = try await redis.info("persistence")
            if condition(info) { return }
            guard ContinuousClock.now < deadline else {
                throw DynokeeperError.snapshot("gave up waiting for \(what) after \(timeout)")
            }
            try await Task.sleep(for: pollInterval)
        }
    }
}

/// Redis 7's AOF manifest: one line per file, `file <name> seq <n> type <b|h|i>`.
enum AOFManifest {
    struct Entry: Equatable {
        var file: String
        var sequence: Int
        /// `b` base, `i` incremental, `h` history (obsolete, awaiting deletion).
        var type: String
    }

    static func parse(_ text: String, path: String) throws -> [Entry] {
        try text.split(whereSeparator: \.isNewline).compactMap { line -> Entry? in
            let tokens = try RedisLine.tokenize(String(line))
            guard !tokens.isEmpty, !tokens[0].hasPrefix("#") else { return nil }
            var fields: [String: String] = [:]
            var index = 0
            while index + 1 < tokens.count {
                fields[tokens[index]] = tokens[index + 1]
                index += 2
            }
            guard let file = fields["file"], let sequence = fields["seq"].flatMap(Int.init), let type = fields["type"],
                !file.contains("/"), file != "..", !file.isEmpty
            else {
                throw DynokeeperError.snapshot(
                    "the AOF manifest \(path) has a line dynokeeper does not understand: \(line)")
            }
            return Entry(file: file, sequence: sequence, type: type)
        }
    }

    /// The manifest without its history entries, whose files a snapshot does not carry.
    static func withoutHistory(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline)
            .filter { line in
                let tokens = (try? RedisLine.tokenize(String(line))) ?? []
                guard let typeIndex = tokens.firstIndex(of: "type"), typeIndex + 1 < tokens.count else { return true }
                return tokens[typeIndex + 1] != "h"
            }
            .map { $0 + "\n" }
            .joined()
    }
}
