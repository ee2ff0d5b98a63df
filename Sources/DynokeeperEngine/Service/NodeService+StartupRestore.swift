import DynokeeperConfiguration
package import Foundation
import RedisClient

/// `restore.on_start` (what Dynomite-manager's `restore.enabled` meant): the node fills itself once from the
/// configured date and source when `serve` starts, before any scheduled job, and records that it did in its state
/// folder, so that a restart never restores again (Dynomite-manager restored at every restart).
extension NodeService {
    /// What the state folder records of the restore at start-up.
    package struct StartupRestoreRecord: Codable, Sendable, Equatable {
        /// `restored` or `skipped`.
        package var outcome: String
        package var snapshot: String?
        package var at: Date
        package var note: String?
    }

    static let startupRecordName = "restored-on-start.json"

    /// Runs the restore at start-up when it is asked for and has not run yet; waits for it.
    /// - Returns: What happened, for the log; `nil` when `restore.on_start` is off.
    package func restoreOnStart(now: Date = Date()) async -> String? {
        let components = await components()
        guard components.configuration.restore.onStart else { return nil }
        do {
            let folders = try await NodeFolders.resolve(components.configuration, connector: components.connector)
            let path = Self.recordPath(folders)
            if let record = Self.startupRecord(stateFolder: folders.state) {
                return
                    "restore.on_start: already done at \(record.at.formatted(.iso8601)) (\(record.outcome)\(record.snapshot.map { ", snapshot \($0)" } ?? "")); not again (a start restores only while this record is missing and Redis is empty: remove \(path) and empty Redis to restore again, or restore by hand)"
            }
            // A node that holds data is a restart, not a new node: its data must not be replaced by a backup. Counted
            // once Redis has loaded its files (while it loads, after a reboot, it answers with a partial count).
            let keys = try await Self.keyCount(components, afterLoading: true)
            if keys > 0 {
                try Self.record(
                    StartupRestoreRecord(
                        outcome: "skipped", at: now, note: "Redis already held \(keys) keys: not a new node"),
                    at: path, folders: folders)
                return
                    "restore.on_start: skipped: Redis already holds \(keys) keys (a restart, not a new node); recorded in \(path)"
            }
            let job = try await startRestore(RestoreRequest(), trigger: "start-up")
            let finished = await runner.wait(job.id)
            guard finished?.state == .succeeded else {
                return
                    "restore.on_start: the restore at start-up failed (\(finished?.error ?? "no result")); it runs again at the next start, or restore by hand"
            }
            try Self.record(
                StartupRestoreRecord(outcome: "restored", snapshot: finished?.result?.snapshot, at: now, note: nil),
                at: path, folders: folders)
            return "restore.on_start: restored snapshot \(finished?.result?.snapshot ?? "?"); recorded in \(path)"
        } catch {
            return "restore.on_start: the restore at start-up did not run: \(error)"
        }
    }

    /// Why backups must wait: `restore.on_start` is set, nothing was recorded, and Redis is empty, so the restore at
    /// start-up failed or has not run. A backup now would store the empty node as its newest snapshot (and the next
    /// start would restore that). `nil` when backups may run.
    package func startupRestorePending() async -> String? {
        await components().startupRestorePending()
    }

    static func recordPath(_ folders: NodeFolders) -> String { folders.state + "/" + startupRecordName }

    /// The record in a state folder, if there is a readable one.
    static func startupRecord(stateFolder: String) -> StartupRestoreRecord? {
        FileManager.default.contents(atPath: stateFolder + "/" + startupRecordName).flatMap {
            try? SnapshotManifest.decoder.decode(StartupRestoreRecord.self, from: $0)
        }
    }

    /// Keys in all of Redis's databases; with `afterLoading`, once Redis has loaded its files (while it loads, after
    /// a reboot, it answers with a partial count).
    static func keyCount(_ components: NodeComponents, afterLoading: Bool) async throws -> Int {
        try await components.connector.withConnection(commandTimeout: .seconds(10)) { redis in
            if afterLoading {
                try await OnlineLoad.waitUntilNotLoading(
                    redis, address: components.connector.address, timeout: .seconds(3600))
            }
            return try await redis.info("keyspace").keyspace.values.reduce(0) { $0 + $1.keys }
        }
    }

    static func record(_ record: StartupRestoreRecord, at path: String, folders: NodeFolders) throws {
        try StateFolder.make(folders)
        try SnapshotManifest.encoder.encode(record).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}

extension NodeComponents {
    /// Why backups must wait (see ``NodeService/startupRestorePending()``): asked by the daemon's jobs and the command
    /// line alike.
    package func startupRestorePending() async -> String? {
        guard configuration.restore.onStart else { return nil }
        guard let folders = try? await NodeFolders.resolve(configuration, connector: connector) else { return nil }
        if FileManager.default.fileExists(atPath: NodeService.recordPath(folders)) { return nil }
        guard (try? await NodeService.keyCount(self, afterLoading: false)) == 0 else { return nil }
        return
            "restore.on_start has not restored this node yet and Redis is empty: a backup now would store an empty node as the newest snapshot. Restore it (dynokeeper restore), or remove restore.on_start"
    }

    /// Refuses a backup while ``startupRestorePending()`` says why it must wait (the API's jobs and the command line).
    package func refuseBackupWhileStartupRestorePending() async throws {
        if let pending = await startupRestorePending() {
            throw DynokeeperError(.unfinishedRestore, "backup refused: \(pending)")
        }
    }
}
