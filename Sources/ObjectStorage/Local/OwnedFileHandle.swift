import NIOFileSystem

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A NIOFileSystem handle closed when the last reference goes away.
///
/// Hand-written because NIOFileSystem traps on a handle dropped unclosed and closes only asynchronously, while
/// the store's files live as long as their readers and streams (a download's body outlives the `get`).
final class OwnedFileHandle<Handle: FileHandleProtocol & Sendable>: Sendable {
    let handle: Handle
    let path: String

    init(_ handle: Handle, path: String) {
        self.handle = handle
        self.path = path
    }

    deinit { try? handle.detachUnsafeFileDescriptor().close() }
}

extension LocalFileError {
    /// `cannot <action> <path>: <the system's reason>`.
    init(_ action: String, _ path: String, _ error: any Error) {
        self.init("cannot \(action) \(path): \(Self.reason(error))")
    }

    /// The system's words for a failed call (as `strerror` gives them), else the error's own.
    static func reason(_ error: any Error) -> String {
        if let errno = errno(error) { return String(cString: strerror(errno.rawValue)) }
        if let error = error as? FileSystemError { return error.message }
        return "\(error)"
    }

    static func errno(_ error: any Error) -> Errno? {
        if let error = error as? Errno { return error }
        guard let error = error as? FileSystemError else { return nil }
        if let call = error.cause as? FileSystemError.SystemCallError { return call.errno }
        return error.cause.flatMap(errno)
    }
}

/// A failed system call, with the path it was about.
struct POSIXCallError: Error, CustomStringConvertible {
    var call: String
    var path: String
    var errno: Int32

    var description: String { "\(call) \(path): \(String(cString: strerror(errno)))" }
}
