package import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One backup, restore, resume or rollback at a time on a node, whether the CLI or the daemon runs it: an
/// exclusive `flock` on a file in the state folder, held for the whole operation and released by the kernel
/// when the process ends, even by kill -9.
package final class NodeLock: Sendable {
    /// Who holds the lock, written into the lock file for the others to read.
    package struct Holder: Codable, Sendable, Equatable, CustomStringConvertible {
        package var operation: String
        package var pid: Int32
        package var startedAt: Date

        package var description: String {
            "\(operation) started by pid \(pid) at \(startedAt.formatted(.iso8601))"
        }
    }

    static let fileName = "lock"

    package let path: String
    package let holder: Holder
    private let descriptor: Mutex<Int32>

    private init(path: String, holder: Holder, descriptor: Int32) {
        self.path = path
        self.holder = holder
        self.descriptor = Mutex(descriptor)
    }

    deinit { release() }

    /// Takes the lock, or fails at once when another operation holds it.
    /// - Parameters:
    ///   - folders: Where the lock file is (created with the state folder when missing).
    ///   - operation: What is about to run (`backup`, `restore`, …), for whoever finds the lock taken.
    /// - Throws: ``NodeBusyError`` naming the holder; ``DynokeeperError`` when the lock file cannot be created.
    package static func acquire(_ folders: NodeFolders, operation: String) throws -> NodeLock {
        try StateFolder.make(folders)
        let path = folders.lock
        var fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o660)
        if fd >= 0 {
            StateFolder.giveToDataOwner(path, folders: folders, mode: 0o660)
        } else if errno == EEXIST {
            fd = open(path, O_RDWR | O_CLOEXEC)
        }
        guard fd >= 0 else {
            throw DynokeeperError.snapshot(
                "cannot open the node lock \(path): \(String(cString: strerror(errno))) (dynokeeper needs to write node.state_dir, by default .dynokeeper in Redis's data folder)"
            )
        }
        // A status probe holds a shared lock for a moment (see currentHolder): try again for a little while.
        var locked = false
        var error: Int32 = 0
        for attempt in 0..<20 {
            if flock(fd, LOCK_EX | LOCK_NB) == 0 {
                locked = true
                break
            }
            error = errno
            guard error == EWOULDBLOCK, attempt < 19 else { break }
            usleep(10_000)
        }
        guard locked else {
            let holder = read(fd)
            close(fd)
            if error == EWOULDBLOCK {
                throw NodeBusyError(holder: holder, lockPath: path)
            }
            throw DynokeeperError.snapshot("cannot lock \(path): \(String(cString: strerror(error)))")
        }
        let holder = Holder(operation: operation, pid: getpid(), startedAt: Date())
        if let data = try? JSONEncoder.dynokeeper.encode(holder) {
            _ = ftruncate(fd, 0)
            _ = data.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        }
        return NodeLock(path: path, holder: holder, descriptor: fd)
    }

    /// Who holds the lock now, or `nil` when nobody does.
    package static func currentHolder(_ folders: NodeFolders) -> Holder? {
        let fd = open(folders.lock, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        if flock(fd, LOCK_SH | LOCK_NB) == 0 {
            flock(fd, LOCK_UN)
            return nil
        }
        return read(fd) ?? Holder(operation: "an operation", pid: 0, startedAt: Date(timeIntervalSince1970: 0))
    }

    /// Releases the lock (also done when the value goes away).
    package func release() {
        descriptor.withLock { fd in
            guard fd >= 0 else { return }
            _ = ftruncate(fd, 0)
            flock(fd, LOCK_UN)
            close(fd)
            fd = -1
        }
    }

    private static func read(_ fd: Int32) -> Holder? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = pread(fd, &buffer, buffer.count, 0)
        guard count > 0 else { return nil }
        return try? JSONDecoder.dynokeeper.decode(Holder.self, from: Data(buffer[..<count]))
    }
}

/// Another operation holds the node lock (HTTP 409, exit status 1).
package struct NodeBusyError: Error, Sendable, CustomStringConvertible {
    package var holder: NodeLock.Holder?
    package var lockPath: String

    package var description: String {
        "busy: \(holder.map(\.description) ?? "another dynokeeper operation") holds the node lock \(lockPath); try again when it has finished"
    }
}

extension JSONEncoder {
    /// dynokeeper's small JSON files: snake_case keys, ISO 8601 dates.
    static var dynokeeper: JSONEncoder { SnapshotManifest.makeEncoder(pretty: false) }
}

extension JSONDecoder {
    static var dynokeeper: JSONDecoder { SnapshotManifest.decoder }
}
