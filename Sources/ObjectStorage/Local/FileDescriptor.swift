#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore

/// An open file descriptor, closed when the last reference goes away, with the few calls the local store needs.
///
/// The store uses it from one task at a time; calls block and run through ``BlockingIO``.
final class FileDescriptor: @unchecked Sendable {
    let fd: Int32
    let path: String

    private init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    deinit { close(fd) }

    static func open(_ path: String, flags: Int32, mode: mode_t = 0o644) throws(POSIXCallError) -> FileDescriptor {
        let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
        guard fd >= 0 else { throw POSIXCallError(call: "open", path: path, errno: errno) }
        return FileDescriptor(fd: fd, path: path)
    }

    /// Writes a whole buffer, retrying short writes.
    func writeAll(_ buffer: ByteBuffer) throws(POSIXCallError) {
        try buffer.withUnsafeReadableBytes { (bytes) throws(POSIXCallError) in
            var offset = 0
            while offset < bytes.count {
                let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw POSIXCallError(call: "write", path: path, errno: errno)
                }
                offset += written
            }
        }
    }

    /// Reads up to `length` bytes at `offset`; fewer only at the end of the file.
    func read(at offset: Int64, length: Int) throws(POSIXCallError) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: length)
        var total = 0
        while total < length {
            let count = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: length - total) {
                (bytes) throws(POSIXCallError) -> Int in
                while true {
                    let n = pread(fd, bytes.baseAddress!, length - total, off_t(offset) + off_t(total))
                    if n >= 0 { return n }
                    if errno != EINTR { throw POSIXCallError(call: "read", path: path, errno: errno) }
                }
            }
            if count == 0 { break }
            total += count
        }
        return buffer
    }

    func sync() throws(POSIXCallError) {
        guard fsync(fd) == 0 else { throw POSIXCallError(call: "fsync", path: path, errno: errno) }
    }

    func status() throws(POSIXCallError) -> stat {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw POSIXCallError(call: "fstat", path: path, errno: errno) }
        return info
    }
}

/// A failed system call, with the path it was about.
struct POSIXCallError: Error, CustomStringConvertible {
    var call: String
    var path: String
    var errno: Int32

    var description: String { "\(call) \(path): \(String(cString: strerror(errno)))" }
}
