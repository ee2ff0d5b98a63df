#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
public import NIOCore

/// A new file being written, flushed to disk before it is renamed into place.
public final class LocalFileWriter: Sendable {
    public let path: String
    let descriptor: FileDescriptor

    private init(path: String, descriptor: FileDescriptor) {
        self.path = path
        self.descriptor = descriptor
    }

    /// Creates a file that must not exist yet.
    public static func create(_ path: String) async throws -> LocalFileWriter {
        try await BlockingIO.run {
            do {
                return LocalFileWriter(path: path, descriptor: try FileDescriptor.open(path, flags: O_WRONLY | O_CREAT | O_EXCL))
            } catch let error as POSIXCallError {
                throw LocalFileError(error)
            }
        }
    }

    /// Appends bytes.
    public func write(_ buffer: ByteBuffer) async throws {
        let descriptor = descriptor
        try await BlockingIO.run {
            do { try descriptor.writeAll(buffer) } catch let error as POSIXCallError { throw LocalFileError(error) }
        }
    }

    /// Flushes the file's bytes to disk.
    public func sync() async throws {
        let descriptor = descriptor
        try await BlockingIO.run {
            do { try descriptor.sync() } catch let error as POSIXCallError { throw LocalFileError(error) }
        }
    }
}

/// The few file-system operations backups and restores need, off the cooperative threads.
public enum LocalFileSystem {
    /// Renames atomically (replacing `destination` if it is a file), then flushes the destination's folder.
    public static func rename(_ source: String, to destination: String) async throws {
        try await BlockingIO.run {
            guard Glibc.rename(source, destination) == 0 else {
                throw LocalFileError(POSIXCallError(call: "rename \(source) to", path: destination, errno: errno))
            }
            try syncFolderNow((destination as NSString).deletingLastPathComponent)
        }
    }

    /// Flushes a folder's entries (after creating or renaming files in it) to disk.
    public static func syncFolder(_ path: String) async throws {
        try await BlockingIO.run { try syncFolderNow(path) }
    }

    static func syncFolderNow(_ path: String) throws(LocalFileError) {
        do {
            try FileDescriptor.open(path, flags: O_RDONLY | O_DIRECTORY).sync()
        } catch {
            throw LocalFileError(error)
        }
    }

    /// Creates a folder and its parents.
    public static func makeFolders(_ path: String) async throws {
        try await BlockingIO.run {
            do {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            } catch {
                throw LocalFileError("cannot create folder \(path): \(error.localizedDescription)")
            }
        }
    }

    /// Removes a file or a folder with its content; a missing path is not an error.
    public static func remove(_ path: String) async throws {
        try await BlockingIO.run {
            guard FileManager.default.fileExists(atPath: path) else { return }
            do {
                try FileManager.default.removeItem(atPath: path)
            } catch {
                throw LocalFileError("cannot remove \(path): \(error.localizedDescription)")
            }
        }
    }

    /// Gives a file a second name (a hard link), so that two paths share one copy.
    public static func link(_ source: String, to destination: String) async throws {
        try await BlockingIO.run {
            guard Glibc.link(source, destination) == 0 else {
                throw LocalFileError(POSIXCallError(call: "link \(source) to", path: destination, errno: errno))
            }
        }
    }

    /// Whether a path exists (file or folder).
    public static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    /// The bytes available to an unprivileged user on the file system holding `path`.
    public static func availableSpace(_ path: String) throws -> Int64 {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else {
            throw LocalFileError(POSIXCallError(call: "statvfs", path: path, errno: errno))
        }
        return Int64(info.f_bavail) * Int64(info.f_frsize)
    }
}

extension LocalFileError {
    init(_ error: POSIXCallError) { self.init("\(error.call) \(error.path): \(String(cString: strerror(error.errno)))") }
}

import Foundation
