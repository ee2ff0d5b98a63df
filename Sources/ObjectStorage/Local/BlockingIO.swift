import NIOPosix

/// Runs blocking system calls on NIO's shared thread pool, off the cooperative threads of Swift concurrency.
///
/// What NIOFileSystem does not serve stays hand-written and runs here: the atomic rename over an existing file,
/// hard links, and the store's tree walks (one pool job `lstat`s a whole tree, where NIOFileSystem would hop to
/// the pool for each entry and reports `ENOTDIR` as a failure, not as "no such object").
enum BlockingIO {
    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await NIOThreadPool.singleton.runIfActive(body)
    }
}
