import Foundation

/// The RDB format version: the number after `REDIS` in an RDB file's first nine bytes. A Redis refuses, at
/// start-up, an RDB newer than the newest format it knows, and the node then stays down; so a restore compares
/// the two before it touches the node.
package enum RDBVersion {
    /// The version an RDB file (or an AOF with an RDB preamble) starts with, `nil` when it does not start like one.
    package static func parse(header bytes: some Collection<UInt8>) -> Int? {
        let head = Array(bytes.prefix(9))
        guard head.count == 9, head.prefix(5).elementsEqual("REDIS".utf8),
            let version = Int(String(decoding: head[5...], as: UTF8.self))
        else { return nil }
        return version
    }

    /// Reads the version at the start of a local file.
    package static func read(file path: String) -> Int? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        guard let data = try? handle.read(upToCount: 9) else { return nil }
        return parse(header: data)
    }

    /// The newest RDB version a Redis release loads, `nil` when unknown (Valkey, or a release newer than this
    /// table, which then is not second-guessed). RDB 10 is Redis 7.0, 11 is 7.2, 12 is 7.4 and 8.x.
    package static func newestLoadable(redisVersion: String, serverName: String? = nil) -> Int? {
        guard serverName == nil || serverName == "redis" else { return nil }
        let parts = redisVersion.split(separator: ".").compactMap { Int($0) }
        guard parts.count >= 2 else { return nil }
        switch (parts[0], parts[1]) {
        case (2, 6...), (3, 0): return 6
        case (3, 2): return 7
        case (4, _): return 8
        case (5, _), (6, _): return 9
        case (7, 0): return 10
        case (7, 2): return 11
        case (7, 4...), (8, _): return 12
        default: return nil
        }
    }
}
