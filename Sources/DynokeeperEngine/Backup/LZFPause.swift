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
/// A marker in dynokeeper's state folder is written before the setting changes and removed once it is back, so that
/// the next backup puts it back after a backup that was killed in between.
final class LZFPause: Sendable {
    static let markerName = "rdbcompression-off"
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
    /// off). Failures are logged: the backup goes on.
    static func mend(_ redis: RedisConnection, stateFolder: String, logger: Logger) async {
        let marker = stateFolder + "/" + markerName
        guard FileManager.default.fileExists(atPath: marker) else { return }
        do {
            // "yes" already: Redis restarted from its configuration since, or someone put it back.
            if try await redis.configGet("rdbcompression") == "no" {
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

    /// Turns LZF off when it is on, Redis streams without a file (`repl-diskless-sync yes`, so that its dump.rdb is
    /// never written without LZF) and the marker can be written; `nil` when it leaves Redis as it is.
    static func begin(_ redis: RedisConnection, stateFolder: String, logger: Logger) async -> LZFPause? {
        let marker = stateFolder + "/" + markerName
        do {
            guard try await redis.configGet("rdbcompression") == "yes",
                try await redis.configGet("repl-diskless-sync") != "no"
            else { return nil }
        } catch {
            return nil
        }
        do {
            let text = "dynokeeper turned Redis's rdbcompression off for a streamed backup's fork; it puts it back on\n"
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
        logger.debug("rdbcompression off until Redis's fork starts")
        return LZFPause(redis: redis, marker: marker, logger: logger)
    }

    /// Puts LZF back on, once: when the first byte of the RDB arrives (the fork has started), or when the transfer
    /// ends without one. Runs even when the backup was cancelled.
    func end() async {
        guard
            ended.withLock({ ended in
                defer { ended = true }; return !ended
            })
        else { return }
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
