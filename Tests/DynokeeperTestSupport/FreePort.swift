import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Loopback ports nobody listens on.
package enum FreePort {
    /// A free loopback port for a test server, never the same twice in a test run, and below the kernel's
    /// ephemeral range (32768 and up), so that neither another test's server nor an outgoing connection can take
    /// it while its server is stopped and started again (as restores do).
    package static func next() throws -> Int {
        for _ in 0..<10_000 {
            let candidate = Int.random(in: 20_000..<32_000)
            guard Handed.shared.claim(candidate) else { continue }
            if canBind(candidate) { return candidate }
        }
        throw TestSupportError("no free port found")
    }

    /// Ports that are free together with `port + offset` (servers such as SeaweedFS open both).
    /// - Parameters:
    ///   - count: How many ports.
    ///   - offset: The distance to the companion port that must be free too.
    package static func pairs(count: Int, offset: Int) throws -> [Int] {
        var ports: [Int] = []
        var attempts = 0
        while ports.count < count {
            attempts += 1
            guard attempts < 10_000 else { throw TestSupportError("no free port pairs found") }
            let candidate = Int.random(in: 10_000..<(32_000 - offset))
            if ports.contains(candidate) || ports.contains(candidate + offset) { continue }
            guard Handed.shared.claim(candidate), Handed.shared.claim(candidate + offset) else { continue }
            if canBind(candidate) && canBind(candidate + offset) { ports.append(candidate) }
        }
        return ports
    }

    /// Whether a loopback port can be bound now.
    package static func canBind(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        } == 0
    }

    /// Whether something accepts TCP connections on a loopback port.
    package static func isListening(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        return result == 0
    }
}

/// The ports already handed out in this test run.
final class Handed: @unchecked Sendable {
    static let shared = Handed()
    private let lock = NSLock()
    private var ports = Set<Int>()

    /// Claims a port; `false` if it was handed out before.
    func claim(_ port: Int) -> Bool { lock.withLock { ports.insert(port).inserted } }
}
