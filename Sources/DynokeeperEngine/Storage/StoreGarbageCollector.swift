package import Foundation
package import Logging
package import ObjectStorage

/// Removes what interrupted backups leave in the store: multipart uploads never completed nor aborted (S3 bills
/// their parts until they are), the local store's temporary files and empty folders, and snapshot folders without
/// a manifest (never listed or restored). Only what is older than a threshold goes, so that a backup under way
/// is left alone.
package struct StoreGarbageCollector: Sendable {
    package struct Report: Sendable {
        package var uploads: [IncompleteUpload] = []
        /// Snapshot folders without a manifest, with their objects.
        package var folders: [(prefix: String, keys: [String])] = []
        package var emptyFolders = 0
        package var dryRun: Bool

        package var isEmpty: Bool { uploads.isEmpty && folders.isEmpty && emptyFolders == 0 }
    }

    package let store: any ObjectStore
    package let logger: Logger

    package init(store: any ObjectStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    /// - Parameters:
    ///   - olderThan: Only what is at least this old goes (uploads by their start, folders by their newest object).
    ///   - dryRun: List, remove nothing.
    ///   - now: The clock.
    package func run(olderThan: Duration, dryRun: Bool, now: Date = Date()) async throws -> Report {
        let cutoff = now.addingTimeInterval(-(olderThan / .seconds(1)))
        var report = Report(dryRun: dryRun)
        let cleaning = store as? any IncompleteUploadCleaning
        if let cleaning {
            // Only uploads of dynokeeper's own snapshot layout (Dynomite-manager and other tools may share the
            // prefix), started before the cutoff by both their own clock and their snapshot's id.
            report.uploads = try await cleaning.incompleteUploads(prefix: "").filter { upload in
                guard let started = upload.started, started <= cutoff, let id = Self.snapshotFolder(upload.key)?.id
                else { return false }
                return id.date <= cutoff
            }
        }
        // <cluster>/<dc>/<rack>/<tokens>/<snapshot id>/<file…>: folders without a manifest.
        var folders: [String: (keys: [String], newest: Date, complete: Bool, id: SnapshotID)] = [:]
        for object in try await store.listAll(prefix: "") {
            guard let (prefix, id) = Self.snapshotFolder(object.key) else { continue }
            var folder = folders[prefix] ?? ([], .distantPast, false, id)
            folder.keys.append(object.key)
            folder.newest = max(folder.newest, object.lastModified ?? now)
            if object.key == prefix + SnapshotLayout.manifestName { folder.complete = true }
            folders[prefix] = folder
        }
        for (prefix, folder) in folders.sorted(by: { $0.key < $1.key })
        where !folder.complete && folder.newest <= cutoff && folder.id.date <= cutoff {
            // A backup that was still running when the listing was taken may have written its manifest since.
            guard try await store.head(prefix + SnapshotLayout.manifestName) == nil else { continue }
            report.folders.append((prefix, folder.keys))
        }
        // The local store's empty folders, counted before anything goes (removing objects also removes the folders
        // they leave empty), so that a dry run counts what a run removes.
        let local = store as? LocalDirectoryStore
        let removedKeys = Set(report.uploads.map(\.key) + report.folders.flatMap(\.keys))
        if let local {
            report.emptyFolders = try await local.removeEmptyFolders(
                prefix: "", olderThan: cutoff, dryRun: true, removedKeys: removedKeys)
        }
        guard !dryRun else { return report }
        for upload in report.uploads {
            try await cleaning?.abort(upload)
            logger.notice(
                "aborted the incomplete upload of \(upload.key) (\(upload.id)), started \(upload.started.map { $0.formatted(.iso8601) } ?? "at an unknown time")"
            )
        }
        for folder in report.folders {
            try await store.delete(folder.keys)
            logger.notice(
                "removed the incomplete snapshot \(folder.prefix) (\(folder.keys.count) object(s), no manifest)")
        }
        if let local {
            _ = try await local.removeEmptyFolders(
                prefix: "", olderThan: cutoff, dryRun: false, removedKeys: removedKeys)
        }
        return report
    }

    /// The snapshot folder a key lies in, leaving alone names starting with `_` (dynokeeper's own, such as `_ring`).
    static func snapshotFolder(_ key: String) -> (prefix: String, id: SnapshotID)? {
        guard let folder = SnapshotLayout.snapshotFolder(containing: key),
            !key.split(separator: "/").prefix(4).contains(where: { $0.hasPrefix("_") })
        else { return nil }
        return folder
    }
}
