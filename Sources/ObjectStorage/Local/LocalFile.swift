#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore

/// A local file opened for reading, whose bytes stream in chunks read off the cooperative threads.
///
/// The file stays open as long as this value lives: a file that is renamed over or deleted meanwhile (as
/// Redis does with its RDB and AOF files) still reads as it was when opened, up to ``size``.
public final class LocalFile: Sendable {
    public let path: String
    /// The size when it was opened.
    public let size: Int64
    /// What `fstat` said when it was opened.
    let status: stat
    let descriptor: FileDescriptor

    private init(path: String, status: stat, descriptor: FileDescriptor) {
        self.path = path
        self.size = Int64(status.st_size)
        self.status = status
        self.descriptor = descriptor
    }

    /// Opens a regular file.
    /// - Throws: ``LocalFileError`` when it cannot be opened or is not a regular file.
    public static func open(_ path: String) async throws -> LocalFile {
        switch try await attempt(path) {
        case .opened(let file): return file
        case .missing(let errno): throw LocalFileError("cannot open \(path): \(String(cString: strerror(errno)))")
        case .notRegular: throw LocalFileError("\(path) is not a regular file")
        }
    }

    /// What opening a path gave.
    enum Attempt {
        case opened(LocalFile)
        /// Nothing there (`ENOENT`, or `ENOTDIR` for a path through a file).
        case missing(errno: Int32)
        /// A folder or another kind of file.
        case notRegular
    }

    /// Opens a path, telling a missing or non-regular file apart from other failures, which throw.
    static func attempt(_ path: String) async throws -> Attempt {
        try await BlockingIO.run {
            do {
                let descriptor = try FileDescriptor.open(path, flags: O_RDONLY)
                let info = try descriptor.status()
                guard info.st_mode & S_IFMT == S_IFREG else { return .notRegular }
                return .opened(LocalFile(path: path, status: info, descriptor: descriptor))
            } catch let error as POSIXCallError {
                if error.errno == ENOENT || error.errno == ENOTDIR { return .missing(errno: error.errno) }
                throw LocalFileError("cannot open \(path): \(String(cString: strerror(error.errno)))")
            }
        }
    }

    /// The file's bytes (up to its size at opening), in chunks, read ahead two chunks at a time.
    /// - Parameters:
    ///   - range: The bytes to read; the whole file by default.
    ///   - chunkSize: The size of each chunk.
    public func chunks(range: Range<Int64>? = nil, chunkSize: Int = 1 << 20) -> ByteStream {
        let descriptor = descriptor
        let path = path
        let reader = ParallelRangeReader(range: range ?? 0..<size, partSize: Int64(chunkSize), concurrency: 2) { part in
            do {
                return try await BlockingIO.run { try descriptor.read(at: part.lowerBound, length: part.count) }
            } catch let error as POSIXCallError {
                throw LocalFileError("cannot read \(path): \(String(cString: strerror(error.errno)))")
            }
        }
        return ByteStream(reader)
    }
}

extension LocalFile {
    /// The first `count` bytes (fewer when the file is shorter), as opened.
    public func prefix(_ count: Int) async throws -> [UInt8] {
        let descriptor = descriptor
        let length = Int(min(Int64(count), size))
        do {
            let buffer = try await BlockingIO.run { try descriptor.read(at: 0, length: length) }
            return Array(buffer.readableBytesView)
        } catch let error as POSIXCallError {
            throw LocalFileError("cannot read \(path): \(String(cString: strerror(error.errno)))")
        }
    }
}

/// A local file could not be opened, read or written.
public struct LocalFileError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
