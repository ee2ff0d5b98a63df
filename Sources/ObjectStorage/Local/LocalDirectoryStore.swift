package import Foundation
package import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An object store in a local folder: each key is a file under the root, `/` making sub-folders.
///
/// Writes are atomic: the bytes go to a hidden temporary file in the destination folder, which is flushed
/// to disk (`fsync`), renamed over the destination, and the folder flushed in turn. A crash leaves either
/// the old object or the new one, plus at worst a hidden temporary file that listings ignore.
/// Keys are checked by ``ObjectKey/validate(_:)``, so no key leads outside the root.
package struct LocalDirectoryStore: ObjectStore {
    /// The absolute path of the root folder.
    package let root: String
    /// The size of the chunks a download yields.
    package var readChunkSize: Int
    /// The permissions of the files and folders it creates (before the umask): the owner's only by default, since
    /// a store holds every key of the node.
    package var fileMode: UInt16
    package var folderMode: UInt16

    static let temporaryPrefix = ".dynokeeper-tmp-"

    /// - Parameters:
    ///   - root: The root folder; a relative path is resolved against the current directory. It is
    ///     created on the first write.
    ///   - readChunkSize: The size of the chunks a download yields.
    ///   - fileMode: The permissions of new files.
    ///   - folderMode: The permissions of new folders.
    package init(root: String, readChunkSize: Int = 1 << 20, fileMode: UInt16 = 0o600, folderMode: UInt16 = 0o700) {
        let absolute = root.hasPrefix("/") ? root : FileManager.default.currentDirectoryPath + "/" + root
        self.root = URL(fileURLWithPath: absolute).standardizedFileURL.path
        self.readChunkSize = readChunkSize
        self.fileMode = fileMode
        self.folderMode = folderMode
    }

    package var location: String { "file://\(root)" }

    func path(for key: String) throws -> String {
        try ObjectKey.validate(key)
        if key.split(separator: "/").contains(where: { $0.hasPrefix(Self.temporaryPrefix) }) {
            throw ObjectStoreError(
                .invalidKey, "invalid object key: names starting with \(Self.temporaryPrefix) are reserved", key: key)
        }
        return root + "/" + key
    }

    // MARK: put

    package func put<Body: AsyncSequence & Sendable>(
        _ key: String, body: Body, options: PutOptions
    ) async throws -> ObjectInfo where Body.Element == ByteBuffer {
        let destination = try path(for: key)
        let folder = (destination as NSString).deletingLastPathComponent
        let temporary = folder + "/" + Self.temporaryPrefix + UUID().uuidString
        do {
            try await LocalFileSystem.makeFolders(folder, mode: folderMode)
        } catch {
            throw ObjectStoreError(
                .invalidRequest, "cannot create folder \(folder) (is a part of the key an existing object?): \(error)",
                key: key)
        }
        let writer = try await LocalFileWriter.create(temporary, mode: fileMode)
        do {
            for try await chunk in body {
                try Task.checkCancellation()
                try await writer.write(chunk)
            }
            try await writer.sync()
            var isFolder: ObjCBool = false
            if FileManager.default.fileExists(atPath: destination, isDirectory: &isFolder), isFolder.boolValue {
                throw ObjectStoreError(.invalidRequest, "a folder exists where the object should go", key: key)
            }
            try await LocalFileSystem.rename(temporary, to: destination)
        } catch {
            try? await LocalFileSystem.remove(temporary)
            if let error = error as? LocalFileError { throw ObjectStoreError(.other, error.description, key: key) }
            throw error
        }
        guard let info = try await head(key) else {
            throw ObjectStoreError(.other, "the object vanished right after it was written", key: key)
        }
        return info
    }

    // MARK: get

    package func get(_ key: String, range: Range<Int64>?) async throws -> ObjectDownload {
        let file: LocalFile
        switch try await LocalFile.attempt(try path(for: key)) {
        case .opened(let opened): file = opened
        case .missing: throw ObjectStoreError(.notFound, "no such object in \(location)", key: key)
        case .notRegular:
            throw ObjectStoreError(.notFound, "no such object in \(location) (a folder has that name)", key: key)
        }
        let object = ObjectInfo(
            key: key, size: file.size, etag: Self.etag(file.status), lastModified: Self.date(file.status))
        let bytes = try Self.clip(range, size: object.size, key: key)
        return ObjectDownload(info: object, range: bytes, body: file.chunks(range: bytes, chunkSize: readChunkSize))
    }

    /// The range to read, with its upper bound clipped to the size; an empty or out-of-bounds start is an error.
    static func clip(_ range: Range<Int64>?, size: Int64, key: String) throws -> Range<Int64> {
        guard let range else { return 0..<size }
        guard range.lowerBound >= 0, range.lowerBound < size || (size == 0 && range.lowerBound == 0) else {
            throw ObjectStoreError(
                .invalidRequest, "range starts at \(range.lowerBound), past the end of the \(size)-byte object",
                key: key)
        }
        return range.lowerBound..<min(range.upperBound, size)
    }

    // MARK: head

    package func head(_ key: String) async throws -> ObjectInfo? {
        let path = try path(for: key)
        return try await BlockingIO.run { () throws -> ObjectInfo? in
            var info = stat()
            guard stat(path, &info) == 0 else {
                if errno == ENOENT || errno == ENOTDIR { return nil }
                throw POSIXCallError(call: "stat", path: path, errno: errno)
            }
            guard info.st_mode & S_IFMT == S_IFREG else { return nil }
            return ObjectInfo(key: key, size: Int64(info.st_size), etag: Self.etag(info), lastModified: Self.date(info))
        }
    }

    // MARK: list

    package func list(
        prefix: String, delimiter: String?, continuation: String?, maxKeys: Int
    ) async throws -> ObjectListing {
        try ObjectKey.validatePrefix(prefix)
        let root = root
        return try await BlockingIO.run {
            // Only the folder holding the prefix's last complete segment can contain matches.
            let folderPart = prefix.contains("/") ? String(prefix[..<prefix.lastIndex(of: "/")!]) : ""
            var keys: [(key: String, info: stat)] = []
            try Self.walk(root: root, relative: folderPart, into: &keys)
            keys.removeAll { !$0.key.hasPrefix(prefix) }
            keys.sort { ObjectKey.precedes($0.key, $1.key) }

            var objects: [ObjectInfo] = []
            var prefixes: [String] = []
            var lastEntry: String?
            var count = 0
            for (key, info) in keys {
                var entry = key
                var isPrefix = false
                if let delimiter, !delimiter.isEmpty,
                    let found = key.range(
                        of: delimiter, range: key.index(key.startIndex, offsetBy: prefix.count)..<key.endIndex)
                {
                    entry = String(key[..<found.upperBound])
                    isPrefix = true
                }
                if let continuation, !ObjectKey.precedes(continuation, entry) { continue }
                if isPrefix && prefixes.last == entry { continue }
                if count == maxKeys {
                    return ObjectListing(objects: objects, commonPrefixes: prefixes, continuation: lastEntry)
                }
                if isPrefix {
                    prefixes.append(entry)
                } else {
                    objects.append(
                        ObjectInfo(
                            key: key, size: Int64(info.st_size), etag: Self.etag(info), lastModified: Self.date(info)))
                }
                lastEntry = entry
                count += 1
            }
            return ObjectListing(objects: objects, commonPrefixes: prefixes, continuation: nil)
        }
    }

    /// Collects the regular files under `root/relative`, skipping temporary files.
    ///
    /// A folder that is not there lists as empty; one that cannot be read is an error, never a shorter listing
    /// (a snapshot folder that silently dropped out would make a restore pick an older snapshot).
    static func walk(root: String, relative: String, into keys: inout [(key: String, info: stat)]) throws {
        let folder = relative.isEmpty ? root : root + "/" + relative
        guard let directory = opendir(folder) else {
            if errno == ENOENT || errno == ENOTDIR { return }
            throw ObjectStoreError(
                errno == EACCES ? .accessDenied : .other, "cannot list \(folder): \(String(cString: strerror(errno)))")
        }
        defer { closedir(directory) }
        var names: [String] = []
        while true {
            errno = 0
            guard let entry = readdir(directory) else {
                if errno != 0 {
                    throw ObjectStoreError(.other, "cannot list \(folder): \(String(cString: strerror(errno)))")
                }
                break
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        for name in names where !name.hasPrefix(temporaryPrefix) {
            let key = relative.isEmpty ? name : relative + "/" + name
            var info = stat()
            guard lstat(folder + "/" + name, &info) == 0 else {
                if errno == ENOENT { continue }  // removed since the folder was read
                throw ObjectStoreError(.other, "cannot list \(folder)/\(name): \(String(cString: strerror(errno)))")
            }
            switch info.st_mode & S_IFMT {
            case S_IFDIR: try walk(root: root, relative: key, into: &keys)
            case S_IFREG: keys.append((key, info))
            default: continue
            }
        }
    }

    // MARK: delete

    package func delete(_ keys: [String]) async throws {
        let paths = try keys.map { try path(for: $0) }
        let root = root
        let failures = try await BlockingIO.run { () -> [String] in
            var failures: [String] = []
            for (key, path) in zip(keys, paths) {
                if unlink(path) != 0 && errno != ENOENT && errno != ENOTDIR {
                    failures.append("\(key): \(String(cString: strerror(errno)))")
                    continue
                }
                // Remove the folders the object leaves empty, up to the root.
                var folder = (path as NSString).deletingLastPathComponent
                while folder.count > root.count && folder.hasPrefix(root + "/") && rmdir(folder) == 0 {
                    folder = (folder as NSString).deletingLastPathComponent
                }
            }
            return failures
        }
        if !failures.isEmpty {
            throw ObjectStoreError(
                .other, "could not delete \(failures.count) object(s): \(failures.joined(separator: "; "))")
        }
    }

    // MARK: helpers

    /// Size, modification time and inode: changes whenever the file is replaced.
    static func etag(_ info: stat) -> String {
        let parts = [
            UInt64(info.st_size), UInt64(info.st_mtim.tv_sec), UInt64(info.st_mtim.tv_nsec), UInt64(info.st_ino),
        ]
        return parts.map { String($0, radix: 16) }.joined(separator: "-")
    }

    static func date(_ info: stat) -> Date {
        Date(timeIntervalSince1970: TimeInterval(info.st_mtim.tv_sec) + TimeInterval(info.st_mtim.tv_nsec) / 1e9)
    }
}

extension LocalDirectoryStore: IncompleteUploadCleaning {
    /// The temporary files puts leave when they are killed, under the folders the prefix can reach, with their
    /// modification times; and nothing else (empty folders are removed by ``removeEmptyFolders(prefix:)``).
    package func incompleteUploads(prefix: String) async throws -> [IncompleteUpload] {
        let root = root
        return try await BlockingIO.run {
            let folderPart = prefix.contains("/") ? String(prefix[..<prefix.lastIndex(of: "/")!]) : ""
            var found: [IncompleteUpload] = []
            try Self.walkTemporary(root: root, relative: folderPart, into: &found)
            return found.filter { $0.key.hasPrefix(prefix) || prefix.isEmpty }
        }
    }

    /// Removes a temporary file (its key is its path under the root).
    package func abort(_ upload: IncompleteUpload) async throws {
        let parts = upload.key.split(separator: "/", omittingEmptySubsequences: false)
        guard upload.id.hasPrefix(Self.temporaryPrefix), parts.last.map(String.init) == upload.id,
            !parts.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." })
        else {
            throw ObjectStoreError(.invalidKey, "not a temporary file of this store: \(upload.key)")
        }
        let path = root + "/" + upload.key
        if unlink(path) != 0 && errno != ENOENT {
            throw ObjectStoreError(.other, "cannot remove \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// Removes the empty folders under `prefix`'s folder not changed since `cutoff` (a killed put can leave the
    /// folders it made; a put under way has just made its own).
    /// - Parameter removedKeys: Objects and temporary files just removed by the caller (or that it would remove, in a
    ///   dry run): a folder they leave empty goes too, although removing them made it look new.
    package func removeEmptyFolders(
        prefix: String, olderThan cutoff: Date, dryRun: Bool = false, removedKeys: Set<String> = []
    ) async throws -> Int {
        let root = root
        let removedPaths = Set(removedKeys.map { root + "/" + $0 })
        return try await BlockingIO.run {
            let folderPart = prefix.contains("/") ? String(prefix[..<prefix.lastIndex(of: "/")!]) : ""
            return Self.removeEmpty(
                root + (folderPart.isEmpty ? "" : "/" + folderPart), isRoot: true, cutoff: cutoff, dryRun: dryRun,
                removedPaths: removedPaths
            ).count
        }
    }

    /// - Returns: The folders removed (or, with `dryRun`, that would be), and whether `folder` is (or would be) gone.
    static func removeEmpty(
        _ folder: String, isRoot: Bool, cutoff: Date, dryRun: Bool, removedPaths: Set<String>
    ) -> (count: Int, gone: Bool) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return (0, false) }
        // Its age before its children go: removing one touches the folder, which must not make it look new. Nor does
        // removing what the caller removed under it (their folders' times changed then, pruned or not).
        var info = stat()
        var old = lstat(folder, &info) == 0 && date(info) <= cutoff
        var removed = 0
        var remaining = 0
        for name in names {
            let path = folder + "/" + name
            var info = stat()
            if removedPaths.contains(path) {
                continue  // still there in a dry run
            } else if lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR {
                let child = removeEmpty(
                    path, isRoot: false, cutoff: cutoff, dryRun: dryRun, removedPaths: removedPaths)
                removed += child.count
                if !child.gone { remaining += 1 }
            } else {
                remaining += 1
            }
        }
        if removedPaths.contains(where: { $0.hasPrefix(folder + "/") }) { old = true }
        guard !isRoot, remaining == 0, old else { return (removed, false) }
        if dryRun { return (removed + 1, true) }
        guard (try? FileManager.default.contentsOfDirectory(atPath: folder))?.isEmpty == true, rmdir(folder) == 0 else {
            return (removed, false)
        }
        return (removed + 1, true)
    }

    /// The temporary files (`.dynokeeper-tmp-*`) under `root/relative`; the key is the temporary file's path under the
    /// root.
    static func walkTemporary(root: String, relative: String, into found: inout [IncompleteUpload]) throws {
        let folder = relative.isEmpty ? root : root + "/" + relative
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return }
        for name in names {
            var info = stat()
            guard lstat(folder + "/" + name, &info) == 0 else { continue }
            let key = relative.isEmpty ? name : relative + "/" + name
            if info.st_mode & S_IFMT == S_IFDIR {
                try walkTemporary(root: root, relative: key, into: &found)
            } else if name.hasPrefix(temporaryPrefix) {
                found.append(
                    IncompleteUpload(
                        key: relative.isEmpty ? name : relative + "/" + name, id: name, started: date(info)))
            }
        }
    }
}
