import Foundation
import Logging
import RedisClient
import Synchronization

/// Turns Redis's LZF compression of RDB strings (`rdbcompression`) off for the fork of a streamed backup, and back on
/// as soon as the fork has started: the fork keeps the setting it started with, and Redis's own saves keep theirs.
///
/// The backup compresses with zstd anyway. LZF takes Redis's fork most of its time, and zstd compresses LZF's output
/// worse than the plain strings: for 1 GiB of random hex on the benchmark machine, the fork's 7.9 s become 3.4 s and
/// the stored object 529 MiB rather than 679 MiB.
///
/// LZF goes off only when Redis will fork at once: no other child running (Redis would wait for it) and no
/// `repl-diskless-sync-delay` to wait out; a save that starts in the moment between, or a replica without diskless
/// sync that arrives then, writes without LZF.
///
/// A marker in dynokeeper's state folder, naming the Redis process (its `run_id`), is written before the setting
/// changes and removed once it is back, so that the next backup puts it back after a backup that was killed in
/// between, unless Redis has restarted since (it read its configuration again).
final class LZFPause: Sendable {
    static let markerName = "rdbcompression-off"

    /// The marker's path in dynokeeper's state folder.
    static func marker(in stateFolder: String) -> String { stateFolder + "/" + markerName }
    private let redis: RedisConnection
    private let marker: String
    private let logger: Logger
    private let ended = Mutex(false)

    private init(redis: RedisConnection, marker: String, logger: Logger) {
        self.redis = redis
        self.marker = marker
        self.logger = logger
    }

    /// Puts `rdbcompression` back on when an earlier backup left its marker (it was stopped while the setting was
    /// off) and Redis has not restarted since. Failures are logged: the backup goes on.
    static func mend(_ redis: RedisConnection, stateFolder: String, logger: Logger) async {
        let marker = marker(in: stateFolder)
        guard let text = try? String(contentsOfFile: marker, encoding: .utf8) else { return }
        do {
            // Another run_id: Redis restarted and read its configuration again; "yes": someone put it back.
            let runID = try await redis.info("server")["run_id"]
            if let runID, text.contains("run_id \(runID)"), try await redis.configGet("rdbcompression") == "no" {
                try await redis.send(["CONFIG", "SET", "rdbcompression", "yes"])
                logger.notice(
                    "turned Redis's rdbcompression back on: an earlier backup was stopped while it had it off for its fork"
                )
            }
            try FileManager.default.removeItem(atPath: marker)
        } catch {
            logger.warning("could not put Redis's rdbcompression back on after an earlier backup (\(marker)): \(error)")
        }
    }

    /// Turns LZF off when it is on, Redis will fork for the stream at once and without a file (as `sync`, read just
    /// before, says), and the marker can be written; `nil` when it leaves Redis as it is (and logs why, when it is not
    /// the owner's own choice).
    static func begin(
        _ redis: RedisConnection, sync: DisklessSync, stateFolder: String, logger: Logger
    ) async -> LZFPause? {
        let marker = marker(in: stateFolder)
        let runID: String
        do {
            guard try await redis.configGet("rdbcompression") == "yes" else { return nil }
            if let reason = reasonToKeep(sync) {
                logger.info("keeping Redis's LZF in the streamed RDB: \(reason)")
                return nil
            }
            guard let id = sync.info["run_id"] else { return nil }
            runID = id
        } catch {
            return nil
        }
        do {
            let text =
                "dynokeeper turned Redis's rdbcompression off for a streamed backup's fork; it puts it back on\nrun_id \(runID)\n"
            try Data(text.utf8).write(to: URL(fileURLWithPath: marker), options: .atomic)
        } catch {
            logger.info(
                "keeping Redis's LZF in the streamed RDB: cannot write \(marker) (\(error.localizedDescription))")
            return nil
        }
        do {
            try await redis.send(["CONFIG", "SET", "rdbcompression", "no"])
        } catch {
            try? FileManager.default.removeItem(atPath: marker)
            logger.info(
                "keeping Redis's LZF in the streamed RDB: Redis refused CONFIG SET rdbcompression (\(error)); grant +config|set to let dynokeeper turn it off for the backup's fork"
            )
            return nil
        }
        logger.info(
            "rdbcompression off until Redis's fork for the stream starts (backup.keep_redis_lzf: true keeps it)")
        return LZFPause(redis: redis, marker: marker, logger: logger)
    }

    /// Why Redis would not fork for the stream at once, or would write a file: then its own saves in between would
    /// go without LZF.
    static func reasonToKeep(_ sync: DisklessSync) -> String? {
        if sync.writesFile { return "repl-diskless-sync is no (Redis writes its RDB file for the stream)" }
        if let child = sync.runningChild {
            return "Redis runs another child (\(child):1) and forks for the stream only after it"
        }
        guard sync.startsAtOnce else {
            return "Redis waits repl-diskless-sync-delay \(sync.delay) s before it forks for the stream"
        }
        return nil
    }

    /// Puts LZF back on, once: when the first byte of the RDB arrives (the fork has started), or when the transfer
    /// ends without one. Runs even when the backup was cancelled.
    func end() async {
        let first = ended.withLock { ended in
            let first = !ended
            ended = true
            return first
        }
        guard first else { return }
        let (redis, marker, logger) = (redis, marker, logger)
        await Task {
            do {
                try await redis.send(["CONFIG", "SET", "rdbcompression", "yes"])
                try? FileManager.default.removeItem(atPath: marker)
            } catch {
                logger.error(
                    "could not turn Redis's rdbcompression back on (\(error)): it stays off until CONFIG SET rdbcompression yes, a restart of Redis, or the next backup"
                )
            }
        }.value
    }
}
