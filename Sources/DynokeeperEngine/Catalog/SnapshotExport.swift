import DynokeeperConfiguration
import Foundation
package import Logging
package import ObjectStorage

/// Downloads a snapshot's files into a folder, each decompressed and checked against the manifest, under their
/// Redis names: ready for `redis-server --dir FOLDER`, without any Redis of the node involved.
package struct SnapshotExport: Sendable {
    package let store: any ObjectStore
    package let logger: Logger
    package let progress: (any ProgressReporter)?
    /// The keys that decrypt encrypted snapshots (`encryption.*`).
    package var keys = SnapshotKeyring.none

    package init(store: any ObjectStore, logger: Logger, progress: (any ProgressReporter)? = nil) {
        self.store = store
        self.logger = logger
        self.progress = progress
    }

    /// - Parameters:
    ///   - source: The snapshot (``SnapshotSelector/select(_:)``).
    ///   - folder: Where the files go; created if missing.
    ///   - force: Replace files of the same names in a folder that is not empty (otherwise refused).
    /// - Returns: The arguments that start redis-server on the files.
    package func fetch(_ source: RestoreSource, into folder: String, force: Bool) async throws -> [String] {
        var isFolder: ObjCBool = false
        guard !folder.isEmpty else { throw DynokeeperError(.invalidRequest, "the folder to fetch into is empty") }
        if FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), !isFolder.boolValue {
            throw DynokeeperError(.invalidRequest, "\(folder) is not a folder")
        }
        let existing = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        if !existing.isEmpty && !force {
            throw DynokeeperError(
                .invalidRequest,
                "\(folder) is not empty (\(existing.sorted().prefix(5).joined(separator: ", "))): choose an empty folder, or pass --force to replace files of the same names"
            )
        }
        let downloader = SnapshotDownloader(store: store, keys: keys, logger: logger, progress: progress)
        // Each file under a temporary name beside its own; only once every one is checked do they take their names
        // (a damaged object never replaces a good file, nor stays behind looking like one).
        var fetched: [(temporary: String, path: String)] = []
        do {
            for file in source.files {
                let path = folder + "/" + file.name
                let name = (path as NSString).lastPathComponent
                let temporary = (path as NSString).deletingLastPathComponent + "/.dynokeeper-fetch-" + name
                fetched.append((temporary, path))
                try await LocalFileSystem.remove(temporary)
                try await downloader.fetch(file, to: temporary)
            }
        } catch {
            for file in fetched { try? await LocalFileSystem.remove(file.temporary) }
            throw error
        }
        for file in fetched {
            try await LocalFileSystem.remove(file.path)
            guard rename(file.temporary, file.path) == 0 else {
                throw DynokeeperError.snapshot(
                    "cannot rename \(file.temporary) to \(file.path): \(String(cString: strerror(errno)))")
            }
        }
        return Self.redisArguments(source, folder: folder)
    }

    /// The redis-server arguments that load a snapshot's files from `folder`.
    static func redisArguments(_ source: RestoreSource, folder: String) -> [String] {
        var arguments = ["--dir", folder]
        switch source.type {
        case .rdb:
            arguments += ["--dbfilename", source.files.first?.name ?? "dump.rdb", "--appendonly", "no"]
        case .aof:
            if let manifest = source.manifest?.redis.aofManifest {
                arguments += [
                    "--appendonly", "yes", "--appenddirname", source.manifest?.redis.aofDirectory ?? "appendonlydir",
                    "--appendfilename", manifest.replacingOccurrences(of: ".manifest", with: ""),
                ]
            } else {
                arguments += ["--appendonly", "yes", "--appendfilename", source.files.first?.name ?? "appendonly.aof"]
            }
        }
        return arguments
    }
}
