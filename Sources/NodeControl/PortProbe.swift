import NIOCore
import NIOPosix

/// Whether something accepts TCP connections at an address, and waiting for that to change.
package enum PortProbe {
    /// Tries to connect once.
    package static func isOpen(host: String, port: Int, timeout: Duration = .seconds(1)) async -> Bool {
        do {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(TimeAmount(timeout))
                .connect(host: host, port: port)
                .get()
            try? await channel.close()
            return true
        } catch {
            return false
        }
    }

    /// Waits until the port is open (`true`) or closed (`false`).
    /// - Throws: ``NodeControlError`` after `timeout`.
    package static func wait(host: String, port: Int, open: Bool, timeout: Duration, what: String) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if await isOpen(host: host, port: port) == open { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        // Once more after the deadline: on a loaded machine the last sleep may have lasted past it.
        if await isOpen(host: host, port: port) == open { return }
        throw NodeControlError("\(what): \(host):\(port) still \(open ? "closed" : "open") after \(timeout)")
    }
}
