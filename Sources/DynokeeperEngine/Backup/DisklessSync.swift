import RedisClient

/// How Redis would start handing its RDB to a replica now: whether over the socket, and whether at once.
struct DisklessSync {
    /// `repl-diskless-sync no`: Redis's fork writes its RDB file and sends that.
    var writesFile: Bool
    /// `repl-diskless-sync-delay`: how long Redis waits for more replicas before it forks.
    var delay: Int
    /// Whether Redis forks as soon as asked: no delay, or `repl-diskless-sync-max-replicas` 1 with no replica attached.
    var startsAtOnce: Bool
    var info: RedisInfo

    static func read(_ redis: RedisConnection) async throws -> DisklessSync {
        let writesFile = try await redis.configGet("repl-diskless-sync") == "no"
        let delay = Int(try await redis.configGet("repl-diskless-sync-delay") ?? "") ?? 5
        let maxReplicas = Int(try await redis.configGet("repl-diskless-sync-max-replicas") ?? "") ?? 0
        let info = try await redis.info()
        return DisklessSync(
            writesFile: writesFile, delay: delay,
            startsAtOnce: delay == 0 || (maxReplicas == 1 && info.int("connected_slaves") == 0), info: info)
    }

    /// A child Redis runs now (a save, a rewrite, a module's fork): a sync's fork waits for it to end.
    var runningChild: String? {
        ["rdb_bgsave_in_progress", "aof_rewrite_in_progress", "module_fork_in_progress"].first {
            info.int($0) ?? 0 != 0
        }
    }
}
