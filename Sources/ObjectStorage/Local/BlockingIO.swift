import NIOPosix

/// Runs blocking system calls on NIO's shared thread pool, off the cooperative threads of Swift concurrency.
enum BlockingIO {
    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await NIOThreadPool.singleton.runIfActive(body)
    }
}
