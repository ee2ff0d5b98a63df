import CLibcShims
import Foundation
package import NIOCore
import NIOFileSystem
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A new file being written, flushed to disk before it is renamed into place (NIOFileSystem's write handle, or
/// direct I/O when asked for).
///
/// The file is created under its own name at once, not with NIOFileSystem's transactional creation: a killed
/// writer must leave a file that `dynokeeper gc` can find by its name, and NIOFileSystem makes a transactional
/// file visible by removing the old one first (not atomically) and without flushing it.
///
/// Writes are sequential: one at a time, each awaited before the next. Only ``sync()`` makes sure every byte is
/// written (with direct I/O, up to 4 MiB wait in a buffer until then).
package final class LocalFileWriter: Sendable {
    package let path: String
    private let backend: Backend
    /// Where the next write goes (for the NIOFileSystem handle).
    private let offset = Mutex<Int64>(0)
    private let writeBehind: Bool
    /// Where the bytes not handed to the disk yet start, with `writeBehind`.
    private let notWrittenBack = Mutex<Int64>(0)
    /// How many written bytes make the writer hand them to the disk.
    static let writeBehindBytes: Int64 = 8 << 20

    private enum Backend: Sendable {
        case handle(OwnedFileHandle<WriteFileHandle>)
        case direct(DirectFileWriter)
    }

    private init(path: String, backend: Backend, writeBehind: Bool = false) {
        self.path = path
        self.backend = backend
        self.writeBehind = writeBehind
    }

    /// Creates a file that must not exist yet.
    /// - Parameters:
    ///   - mode: The new file's permissions (before the umask).
    ///   - direct: Writes with direct I/O (`O_DIRECT`) where the file system allows it: the bytes go from
    ///     dynokeeper's buffer to the disk, without a copy into the page cache and its write-back (measured in an
    ///     online restore of 1 GiB on 2 cores: the writes took a fifth of all CPU samples; `dd` writes and flushes
    ///     1 GiB in 1.8 s of system time through the page cache, 0.09 s with direct I/O). The file is then not in
    ///     the page cache: for large files nothing reads soon.
    ///   - writeBehind: Through the page cache, but each 8 MiB written starts going to the disk at once
    ///     (`sync_file_range`), while the next ones are made, rather than all in ``sync()`` (measured: `dd` takes
    ///     1.8 s of system time to flush 1 GiB; a files restore's fetch spent it after the download).
    package static func create(
        _ path: String, mode: UInt16 = 0o644, direct: Bool = false, writeBehind: Bool = false
    ) async throws
        -> LocalFileWriter
    {
        if direct {
            return LocalFileWriter(path: path, backend: .direct(try await DirectFileWriter.create(path, mode: mode)))
        }
        var options = OpenOptions.Write.newFile(replaceExisting: false, permissions: FilePermissions(mode))
        options.newFile?.transactionalCreation = false
        do {
            let handle = try await FileSystem.shared.openFile(forWritingAt: FilePath(path), options: options)
            return LocalFileWriter(
                path: path, backend: .handle(OwnedFileHandle(handle, path: path)), writeBehind: writeBehind)
        } catch {
            throw LocalFileError("open", path, error)
        }
    }

    /// Appends bytes.
    package func write(_ buffer: ByteBuffer) async throws {
        switch backend {
        case .direct(let file):
            try await file.write(buffer)
        case .handle(let file):
            let start = offset.withLock { $0 }
            let end: Int64
            do {
                end = start + (try await file.handle.write(contentsOf: buffer, toAbsoluteOffset: start))
                offset.withLock { $0 = end }
            } catch {
                throw LocalFileError("write", path, error)
            }
            guard writeBehind else { return }
            let from = notWrittenBack.withLock { $0 }
            guard end - from >= Self.writeBehindBytes else { return }
            notWrittenBack.withLock { $0 = end }
            // Advice: a failure here shows again, where it matters, in sync()'s fsync.
            _ = try? await file.handle.withUnsafeDescriptor { descriptor in
                dynokeeper_write_behind(descriptor.rawValue, from, end - from)
            }
        }
    }

    /// Flushes the file's bytes to disk.
    package func sync() async throws {
        switch backend {
        case .direct(let file):
            try await file.sync()
        case .handle(let file):
            do { try await file.handle.synchronize() } catch { throw LocalFileError("fsync", path, error) }
        }
    }
}

/// Writes a new file through an aligned buffer with `O_DIRECT`, in whole blocks; the last partial block, and
/// everything on a file system that refuses direct I/O, goes through the page cache.
final class DirectFileWriter: @unchecked Sendable {
    // @unchecked: `staging` and the counters are touched by one write (or sync) at a time, the writer's contract.
    let path: String
    private let descriptor: Int32
    private let staging: UnsafeMutableRawBufferPointer
    private var filled = 0
    /// The file offset of `staging`'s first byte.
    private var offset: Int64 = 0
    /// Whether `O_DIRECT` is still on.
    private(set) var direct: Bool

    /// Direct I/O wants buffers, offsets and lengths aligned to the device's logical block (512 or 4096 bytes).
    static let alignment = 4096
    static let stagingSize = 4 << 20

    private init(path: String, descriptor: Int32, direct: Bool) {
        self.path = path
        self.descriptor = descriptor
        self.direct = direct
        staging = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.stagingSize, alignment: Self.alignment)
    }

    deinit {
        close(descriptor)
        staging.deallocate()
    }

    /// - Parameter directIO: false writes through the page cache, as on a file system without direct I/O.
    static func create(_ path: String, mode: UInt16, directIO: Bool = true) async throws -> DirectFileWriter {
        try await BlockingIO.run {
            let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode_t(mode))
            guard descriptor >= 0 else { throw LocalFileError("open", path, Errno(rawValue: errno)) }
            // Turned on afterwards rather than at open: Linux creates the file before it finds that the file system
            // has no direct I/O (tmpfs before Linux 6.6, some FUSE file systems), so a retry without it would find
            // the file there. Refused here, the writes go through the page cache.
            let flags = fcntl(descriptor, F_GETFL)
            let direct =
                directIO && dynokeeper_o_direct() != 0 && flags >= 0
                && fcntl(descriptor, F_SETFL, flags | dynokeeper_o_direct()) == 0
            return DirectFileWriter(path: path, descriptor: descriptor, direct: direct)
        }
    }

    func write(_ buffer: ByteBuffer) async throws {
        var buffer = buffer
        while buffer.readableBytes > 0 {
            let count = min(buffer.readableBytes, Self.stagingSize - filled)
            buffer.readWithUnsafeReadableBytes { source in
                (staging.baseAddress! + filled).copyMemory(from: source.baseAddress!, byteCount: count)
                return count
            }
            filled += count
            if filled == Self.stagingSize { try await flush(count: filled) }
        }
    }

    func sync() async throws {
        try await flush(count: direct ? filled / Self.alignment * Self.alignment : filled)
        if filled > 0 {
            // The last partial block: through the page cache.
            try await BlockingIO.run { try self.stopDirectIO() }
            try await flush(count: filled)
        }
        try await BlockingIO.run {
            guard fsync(self.descriptor) == 0 else {
                throw LocalFileError("fsync", self.path, Errno(rawValue: errno))
            }
        }
    }

    /// Writes the first `count` bytes of `staging` and keeps the rest at its start.
    private func flush(count: Int) async throws {
        guard count > 0 else { return }
        try await BlockingIO.run { try self.writeStaging(count: count) }
        let rest = filled - count
        if rest > 0 { staging.baseAddress!.copyMemory(from: staging.baseAddress! + count, byteCount: rest) }
        filled = rest
        offset += Int64(count)
    }

    private func writeStaging(count: Int) throws {
        var done = 0
        while done < count {
            let result = pwrite(descriptor, staging.baseAddress! + done, count - done, off_t(offset) + off_t(done))
            if result > 0 {
                done += result
            } else if result == 0 {
                throw LocalFileError("cannot write \(path): the system accepted no bytes")
            } else if errno == EINTR {
                continue
            } else if errno == EINVAL && direct {
                // The device wants a larger alignment than ours: through the page cache from here on.
                try stopDirectIO()
            } else {
                throw LocalFileError("write", path, Errno(rawValue: errno))
            }
        }
    }

    private func stopDirectIO() throws {
        guard direct else { return }
        let flags = fcntl(descriptor, F_GETFL)
        guard flags >= 0, fcntl(descriptor, F_SETFL, flags & ~dynokeeper_o_direct()) == 0 else {
            throw LocalFileError("change the flags of", path, Errno(rawValue: errno))
        }
        direct = false
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
