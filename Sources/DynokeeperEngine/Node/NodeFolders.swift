package import DynokeeperConfiguration
import Foundation
import RedisClient

/// Where the node's Redis keeps its data and where dynokeeper keeps its own state (the node lock and the
/// restore journal), found the same way by the CLI and the daemon.
package struct NodeFolders: Sendable, Equatable {
    /// Redis's data folder as dynokeeper sees it.
    package var data: String
    /// `node.state_dir`, else `.dynokeeper` in the data folder.
    package var state: String

    /// How the data folder was found, for messages.
    package var dataOrigin: String

    static let defaultStateName = ".dynokeeper"

    /// Finds the folders without asking Redis: `node.state_dir` and `redis.data_dir`, or redis.conf's `dir`.
    /// Returns `nil` when only a running Redis could tell (neither redis.data_dir nor redis.conf is set).
    package static func withoutRedis(_ configuration: DynokeeperConfiguration) throws -> NodeFolders? {
        let data: (path: String, origin: String)
        if let dir = configuration.redis.dataDir {
            data = (dir, "redis.data_dir")
        } else if let conf = configuration.redis.conf {
            data = (try RedisLayout.read(conf: conf, dataDirectory: nil, multiPart: true).directory, "dir in \(conf)")
        } else {
            return nil
        }
        return NodeFolders(
            data: data.path, state: configuration.node.stateDir ?? data.path + "/" + defaultStateName,
            dataOrigin: data.origin)
    }

    /// Finds the folders, asking Redis (`CONFIG GET dir`) when the configuration does not say.
    package static func resolve(
        _ configuration: DynokeeperConfiguration, connector: RedisConnector
    ) async throws -> NodeFolders {
        if let folders = try withoutRedis(configuration) { return folders }
        let dir = try await connector.withConnection(commandTimeout: .seconds(10)) { try await $0.configGet("dir") }
        guard let dir, !dir.isEmpty else {
            throw DynokeeperError.snapshot("Redis did not say its data folder (CONFIG GET dir); set redis.data_dir")
        }
        return NodeFolders(
            data: dir, state: configuration.node.stateDir ?? dir + "/" + defaultStateName,
            dataOrigin: "Redis's CONFIG GET dir")
    }

    /// The restore's work folder (fetched files, set-aside files): in the data folder, so that renames stay on
    /// one file system.
    package var work: String { data + "/" + RestoreJournal.workFolderName }

    /// The journal of an unfinished restore.
    package var journal: String { state + "/" + RestoreJournal.fileName }

    /// The node lock.
    package var lock: String { state + "/" + NodeLock.fileName }

    /// Why the running Redis's data folder is not the one found without Redis (`nil` when it is, or when
    /// `redis.data_dir` says where dynokeeper sees it).
    func mismatch(runningDirectory: String, _ configuration: DynokeeperConfiguration) -> String? {
        guard configuration.redis.dataDir == nil,
            RestoreTarget.realPath(runningDirectory) != RestoreTarget.realPath(data)
        else {
            return nil
        }
        return
            "the running Redis keeps its data in \(runningDirectory), but \(dataOrigin) says \(data): check redis.conf, or set redis.data_dir to the folder as dynokeeper sees it"
    }

    /// What a restore requires: its journal must be found again while Redis is down.
    static func forRestore(_ configuration: DynokeeperConfiguration) throws -> NodeFolders {
        guard let folders = try withoutRedis(configuration) else {
            throw ConfigurationError(
                "restores stop Redis, and an interrupted one must be found again while Redis is down: set redis.conf (or redis.data_dir) so that dynokeeper knows Redis's data folder without asking Redis"
            )
        }
        return folders
    }

    /// What a resume or a rollback requires: the journal of the unfinished restore. With `node.state_dir` it is
    /// found there even without redis.conf or redis.data_dir (Redis is down, redis.conf may have been moved away),
    /// and the data folder is the one the journal recorded.
    static func forRecovery(_ configuration: DynokeeperConfiguration) throws -> NodeFolders {
        if let folders = try withoutRedis(configuration) { return folders }
        guard let state = configuration.node.stateDir else { return try forRestore(configuration) }
        let probe = NodeFolders(data: state, state: state, dataOrigin: "node.state_dir")
        guard let journal = try RestoreJournal.load(probe) else {
            throw NoUnfinishedRestoreError(journalPath: probe.journal)
        }
        return NodeFolders(data: journal.directory, state: state, dataOrigin: "the restore journal \(probe.journal)")
    }
}
