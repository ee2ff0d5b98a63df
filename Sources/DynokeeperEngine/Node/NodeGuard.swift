package import DynokeeperConfiguration
package import Foundation
package import Logging

/// The checks every operation on a node goes through, from the CLI and the daemon alike: the node lock, and
/// the journal of a restore that did not finish (which blocks backups until it is resumed or rolled back, since
/// a backup would store whatever half-restored data the node has as its newest snapshot).
package struct NodeGuard: Sendable {
    package let configuration: DynokeeperConfiguration
    package let connector: RedisConnector
    package let logger: Logger

    package init(configuration: DynokeeperConfiguration, connector: RedisConnector, logger: Logger) {
        self.configuration = configuration
        self.connector = connector
        self.logger = logger
    }

    /// Takes the node lock for a backup (or a BGSAVE): busy while another operation runs, refused while a
    /// restore is unfinished. The journal of a restore that never touched the node is cleaned up on the way.
    package func lockForBackup(_ operation: String = "backup") async throws -> NodeLock {
        let folders = try await folders()
        let lock = try NodeLock.acquire(folders, operation: operation)
        do {
            if let journal = try RestoreJournal.load(folders), try await !discardIfUntouched(journal, folders: folders)
            {
                throw UnfinishedRestoreError(journal: journal, journalPath: folders.journal)
            }
        } catch {
            lock.release()
            throw error
        }
        return lock
    }

    /// Removes the journal (and fetched files) of a restore that was interrupted before it touched the node.
    /// The caller holds the lock. Returns whether it did.
    func discardIfUntouched(_ journal: RestoreJournal, folders: NodeFolders) async throws -> Bool {
        guard journal.isUntouched else { return false }
        logger.notice(
            "removing the journal and fetched files of a restore of snapshot \(journal.snapshot) that was interrupted before it touched the node (pid \(journal.pid), \(journal.startedAt.formatted(.iso8601)))"
        )
        try await NodeRestore.discardUntouched(journal, folders: folders)
        return true
    }

    /// What the state folder says about the node now, for `/v1/status`, metrics, start-up and `dynokeeper
    /// status`. When nobody holds the lock, a journal of a restore that never touched the node is cleaned up.
    package func inspect() async -> NodeState {
        do {
            return await inspect(try await folders())
        } catch {
            return NodeState(problem: "cannot find the state folder: \(error)")
        }
    }

    /// The node's folders, from the configuration or Redis; with Redis down and neither redis.conf nor
    /// redis.data_dir, from node.state_dir (where a journal would be) and the journal there (where the data is).
    private func folders() async throws -> NodeFolders {
        do {
            return try await NodeFolders.resolve(configuration, connector: connector)
        } catch {
            guard let state = configuration.node.stateDir else { throw error }
            do {
                return try NodeFolders.forRecovery(configuration)
            } catch is NoUnfinishedRestoreError {
                return NodeFolders(data: state, state: state, dataOrigin: "node.state_dir")
            }
        }
    }

    private func inspect(_ folders: NodeFolders) async -> NodeState {
        var state = NodeState(stateFolder: folders.state)
        if let holder = NodeLock.currentHolder(folders) {
            state.operation = holder
        }
        do {
            guard var journal = try RestoreJournal.load(folders) else {
                if let left = NodeRestore.orphanedData(folders.work + "/previous") {
                    state.problem =
                        "\(folders.work)/previous holds \(left), set aside by a restore that has no journal: they may be the only copy of the node's earlier data"
                }
                return state
            }
            if state.operation == nil, journal.isUntouched,
                let lock = try? NodeLock.acquire(folders, operation: "cleanup")
            {
                defer { lock.release() }
                if try await discardIfUntouched(journal, folders: folders) { return state }
            }
            journal.files = journal.locations()
            state.unfinishedRestore = UnfinishedRestore(
                journal: journal, path: folders.journal, running: state.operation != nil)
        } catch {
            state.problem = "\(error)"
        }
        return state
    }
}

/// The node's state as dynokeeper keeps it: who holds the lock, and a restore that did not finish.
package struct NodeState: Sendable, Codable, Equatable {
    /// `node.state_dir` (or its default), when it could be found.
    package var stateFolder: String?
    /// The operation running now (from this process or another).
    package var operation: NodeLock.Holder?
    package var unfinishedRestore: UnfinishedRestore?
    /// Why the state could not be read.
    package var problem: String?

    package init(
        stateFolder: String? = nil, operation: NodeLock.Holder? = nil, unfinishedRestore: UnfinishedRestore? = nil,
        problem: String? = nil
    ) {
        self.stateFolder = stateFolder
        self.operation = operation
        self.unfinishedRestore = unfinishedRestore
        self.problem = problem
    }
}

/// A restore whose journal is still there.
package struct UnfinishedRestore: Sendable, Codable, Equatable {
    package var snapshot: String
    package var phase: RestoreJournal.Phase
    package var startedAt: Date
    package var pid: Int32
    package var journal: String
    /// Whether its process still runs it (it holds the lock): then it is not interrupted, only under way.
    package var running: Bool
    package var lastError: String?
    package var files: [RestoreJournal.FileLocation]
    /// What to do about it.
    package var resolve: String

    init(journal: RestoreJournal, path: String, running: Bool) {
        snapshot = journal.snapshot
        phase = journal.phase
        startedAt = journal.startedAt
        pid = journal.pid
        self.journal = path
        self.running = running
        lastError = journal.lastError
        files = journal.files
        resolve =
            running
            ? "a restore is running (pid \(journal.pid))"
            : UnfinishedRestoreError(journal: journal, journalPath: path).description
    }
}

extension RestoreJournal {
    /// Whether the restore never got to stop anything: its files can go without a trace.
    /// (The run ids are recorded before anything is stopped: once they are there, Redis may be down.)
    var isUntouched: Bool { phase <= .prepared && !stoppedDynomite && stoppedRedisRunIDs.isEmpty }
}
