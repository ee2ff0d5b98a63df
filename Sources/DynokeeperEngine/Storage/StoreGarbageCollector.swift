public import Foundation
public import Logging
public import ObjectStorage

/// Removes what interrupted backups leave in the store: multipart uploads never completed nor aborted (S3 bills
/// their parts until they are), the local store's temporary files and empty folders, and snapshot folders without
/// a manifest (never listed or restored). Only what is older than a threshold goes, so that a backup under way
/// is left alone.
public struct StoreGarbageCollector: Sendable {
    public struct Report: Sendable {
        public var uploads: [IncompleteUpload] = []
        /// Snapshot folders without a manifest, with their objects.
        public var folders: [(prefix: String, keys: [String])] = []
        public var emptyFolders = 0
        public var dryRun: Bool

        public var isEmpty: Bool { uploads.isEmpty && folders.isEmpty && emptyFolders == 0 }
    }

    public let store: any ObjectStore
    public let logger: Logger

    public init(store: any ObjectStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    /// - Parameters:
    ///   - olderThan: Only what is at least this old goes (uploads by their start, folders by their newest object).
    ///   - dryRun: List, remove nothing.
    ///   - now: The clock.
    public func run(olderThan: Duration, dryRun: Bool, now: Date = Date()) async throws -> Report {
        let cutoff = now.addingTimeInterval(-Double(olderThan.components.seconds))
        var report = Report(dryRun: dryRun)
        if let cleaning = store as? any IncompleteUploadCleaning {
            report.uploads = try await cleaning.incompleteUploads(prefix: "").filter { ($0.started ?? .distantPast) <= cutoff }
            if !dryRun {
                for upload in report.uploads {
                    try await cleaning.abort(upload)
                    logger.notice("aborted the incomplete upload of \(upload.key) (\(upload.id)), started \(upload.started.map { $0.formatted(.iso8601) } ?? "at an unknown time")")
                }
            }
        }
        // <cluster>/<dc>/<rack>/<tokens>/<snapshot id>/<file…>: folders without a manifest.
        var folders: [String: (keys: [String], newest: Date, complete: Bool)] = [:]
        for object in try await store.listAll(prefix: "") {
            let parts = object.key.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count >= 6, SnapshotID(String(parts[4])) != nil, !parts[0...3].contains(where: { $0.isEmpty || $0.hasPrefix("_") })
            else { continue }
            let prefix = parts[0...4].joined(separator: "/") + "/"
            var folder = folders[prefix] ?? ([], .distantPast, false)
            folder.keys.append(object.key)
            folder.newest = max(folder.newest, object.lastModified ?? now)
            if parts.count == 6 && parts[5] == Substring(SnapshotLayout.manifestName) { folder.complete = true }
            folders[prefix] = folder
        }
        for (prefix, folder) in folders.sorted(by: { $0.key < $1.key }) where !folder.complete && folder.newest <= cutoff {
            report.folders.append((prefix, folder.keys))
            if !dryRun {
                try await store.delete(folder.keys)
                logger.notice("removed the incomplete snapshot \(prefix) (\(folder.keys.count) object(s), no manifest)")
            }
        }
        if !dryRun, let local = store as? LocalDirectoryStore {
            report.emptyFolders = try await local.removeEmptyFolders(prefix: "")
        }
        return report
    }
}

/// Durations as the command line and the configuration write them: `90s`, `30m`, `24h`, `7d`.
public enum DurationText {
    public static func parse(_ text: String) -> Duration? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard let unit = trimmed.last, let value = Int(trimmed.dropLast()), value >= 0 else { return nil }
        switch unit {
        case "s": return .seconds(value)
        case "m": return .seconds(value * 60)
        case "h": return .seconds(value * 3600)
        case "d": return .seconds(value * 86_400)
        default: return nil
        }
    }
}
