import Foundation
package import NIOCore
import NIOFileSystem
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A new file being written, flushed to disk before it is renamed into place (NIOFileSystem's write handle).
///
/// The file is created under its own name at once, not with NIOFileSystem's transactional creation: a killed
/// writer must leave a file that `dynokeeper gc` can find by its name, and NIOFileSystem makes a transactional
/// file visible by removing the old one first (not atomically) and without flushing it.
package final class LocalFileWriter: Sendable {
    package let path: String
    let file: OwnedFileHandle<WriteFileHandle>
    /// Where the next write goes.
    private let offset = Mutex<Int64>(0)

    private init(file: OwnedFileHandle<WriteFileHandle>) {
        self.path = file.path
        self.file = file
    }

    /// Creates a file that must not exist yet.
    /// - Parameter mode: The new file's permissions (before the umask).
    package static func create(_ path: String, mode: UInt16 = 0o644) async throws -> LocalFileWriter {
        var options = OpenOptions.Write.newFile(replaceExisting: false, permissions: FilePermissions(mode))
        options.newFile?.transactionalCreation = false
        do {
            let handle = try await FileSystem.shared.openFile(forWritingAt: FilePath(path), options: options)
            return LocalFileWriter(file: OwnedFileHandle(handle, path: path))
        } catch {
            throw LocalFileError("open", path, error)
        }
    }

    /// Appends bytes.
    package func write(_ buffer: ByteBuffer) async throws {
        let start = offset.withLock { $0 }
        do {
            let written = try await file.handle.write(contentsOf: buffer, toAbsoluteOffset: start)
            offset.withLock { $0 = start + written }
        } catch {
            throw LocalFileError("write", path, error)
        }
    }

    /// Flushes the file's bytes to disk.
    package func sync() async throws {
        do { try await file.handle.synchronize() } catch { throw LocalFileError("fsync", path, error) }
    }
}

/// The few file-system operations backups and restores need, off the cooperative threads.
package enum LocalFileSystem {
    /// Renames atomically (replacing `destination` if it is a file), then flushes the destination's folder.
    package static func rename(_ source: String, to destination: String) async throws {
        // Hand-written: NIOFileSystem's moveItem refuses an existing destination and replaceItem removes it first.
        try await BlockingIO.run {
            guard Glibc.rename(source, destination) == 0 else {
                throw LocalFileError(POSIXCallError(call: "rename \(source) to", path: destination, errno: errno))
            }
        }
        try await syncFolder((destination as NSString).deletingLastPathComponent)
    }

    /// Flushes a folder's entries (after creating or renaming files in it) to disk.
    package static func syncFolder(_ path: String) async throws {
        do {
            let folder = try await FileSystem.shared.openDirectory(atPath: FilePath(path))
            do {
                try await folder.synchronize()
            } catch {
                try? await folder.close()
                throw error
            }
            try await folder.close()
        } catch {
            throw LocalFileError("fsync", path, error)
        }
    }

    /// Creates a folder and its parents.
    /// - Parameter mode: The new folders' permissions before the umask (by default the umask alone decides, as
    ///   for `mkdir`: a group that shares a local store with umask 002 keeps its write access).
    package static func makeFolders(_ path: String, mode: UInt16 = 0o777) async throws {
        do {
            try await FileSystem.shared.createDirectory(
                at: FilePath(path), withIntermediateDirectories: true, permissions: FilePermissions(mode))
        } catch {
            throw LocalFileError("create folder", path, error)
        }
    }

    /// Removes a file or a folder with its content; a missing path is not an error.
    package static func remove(_ path: String) async throws {
        do {
            try await FileSystem.shared.removeItem(at: FilePath(path), recursively: true)
        } catch {
            throw LocalFileError("remove", path, error)
        }
    }

    /// Gives a file a second name (a hard link), so that two paths share one copy.
    package static func link(_ source: String, to destination: String) async throws {
        // Hand-written: NIOFileSystem makes symbolic links only.
        try await BlockingIO.run {
            guard Glibc.link(source, destination) == 0 else {
                throw LocalFileError(POSIXCallError(call: "link \(source) to", path: destination, errno: errno))
            }
        }
    }

    /// Gives a file, or every file of a folder and its subfolders, a second name under `destination` (folders are
    /// created with the same mode): a copy that costs no space and keeps the data even after the original names
    /// are removed or replaced. Names that already exist are left as they are, so that it can run again.
    package static func linkTree(_ source: String, to destination: String) async throws {
        try await BlockingIO.run { try linkTreeNow(source, to: destination) }
    }

    private static func linkTreeNow(_ source: String, to destination: String) throws {
        var info = stat()
        guard lstat(source, &info) == 0 else {
            throw LocalFileError(POSIXCallError(call: "stat", path: source, errno: errno))
        }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            guard Glibc.link(source, destination) == 0 || errno == EEXIST else {
                throw LocalFileError(POSIXCallError(call: "link \(source) to", path: destination, errno: errno))
            }
            return
        }
        guard mkdir(destination, info.st_mode & 0o7777) == 0 || errno == EEXIST else {
            throw LocalFileError(POSIXCallError(call: "mkdir", path: destination, errno: errno))
        }
        for name in try FileManager.default.contentsOfDirectory(atPath: source) {
            try linkTreeNow(source + "/" + name, to: destination + "/" + name)
        }
    }

    /// Whether a path exists (file or folder).
    package static func exists(_ path: String) -> Bool {
        // Hand-written: callers ask inside synchronous code; NIOFileSystem's info(forFileAt:) is async only.
        var info = stat()
        return lstat(path, &info) == 0
    }

    /// The bytes available to an unprivileged user on the file system holding `path`.
    package static func availableSpace(_ path: String) throws -> Int64 {
        // Hand-written: NIOFileSystem has no statvfs.
        var info = statvfs()
        guard statvfs(path, &info) == 0 else {
            throw LocalFileError(POSIXCallError(call: "statvfs", path: path, errno: errno))
        }
        return Int64(info.f_bavail) * Int64(info.f_frsize)
    }
}

extension FilePermissions {
    init(_ mode: UInt16) { self.init(rawValue: CInterop.Mode(mode)) }
}

extension LocalFileError {
    init(_ error: POSIXCallError) {
        self.init("\(error.call) \(error.path): \(String(cString: strerror(error.errno)))")
    }
}
