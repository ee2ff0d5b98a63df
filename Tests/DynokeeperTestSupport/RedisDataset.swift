package import Foundation

/// A Redis that tests can reach with redis-cli.
package protocol RedisCommandLine: Sendable {
    func cli(_ arguments: [String], input: Data?) async throws -> ProcessResult
}

extension RedisServer: RedisCommandLine {}
extension ManagedRedis: RedisCommandLine {}

extension RedisCommandLine {
    /// The Redis process's `run_id` (`INFO server`): another one after a restart.
    package func runID() async throws -> String? {
        let info = try await cli(["INFO", "server"], input: nil).stdoutText
        return info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("run_id:") }.map { String($0.dropFirst(7)) }
    }
}

/// Sample data of every Redis type, written through redis-cli.
package enum RedisDataset {
    /// Strings, hashes, lists, sets, sorted sets, streams and keys with TTLs, in databases 0 and 3.
    /// - Returns: How many keys each database holds afterwards.
    @discardableResult
    package static func populateAllTypes(_ server: some RedisCommandLine, tag: String = "v1") async throws -> [Int: Int]
    {
        var commands: [String] = []
        for index in 0..<50 {
            commands.append("SET string:\(index) \(tag)-value-\(index)")
            commands.append("HSET hash:\(index) field1 \(tag)-a field2 \(index) field3 \(tag)")
            commands.append("RPUSH list:\(index) a b c \(tag) \(index)")
            commands.append("SADD set:\(index) x y z \(tag)-\(index)")
            commands.append("ZADD zset:\(index) 1 one 2.5 two \(index) \(tag)")
            commands.append("XADD stream:\(index) * sensor \(index) tag \(tag)")
        }
        for index in 0..<20 {
            commands.append("SET ttl:\(index) \(tag)-expiring EX 86400")
            commands.append("HSET ttlhash:\(index) f \(tag)")
            commands.append("PEXPIRE ttlhash:\(index) 7200000")
        }
        commands.append("SET binary:\(tag) \"\\x00\\xff\\r\\n\\x01\"")
        commands.append("SELECT 3")
        for index in 0..<10 { commands.append("SET db3:\(index) \(tag)-in-db3") }
        let result = try await server.cli([], input: Data((commands.joined(separator: "\n") + "\n").utf8))
        guard result.status == 0, !result.stdoutText.contains("ERR") else {
            throw TestSupportError("populating failed: \(result.stdoutText) \(result.stderrText)")
        }
        return [0: 50 * 6 + 40 + 1, 3: 10]
    }

    /// `count` string keys of `size` random hexadecimal bytes, written by a server-side script (fast, and
    /// hardly compressible beyond hex's factor of two); with `binary`, random bytes, which do not compress at all
    /// (compare such data with `DEBUG DIGEST`: ``RedisContent`` reads values as text).
    package static func populateRandom(
        _ server: some RedisCommandLine, count: Int, size: Int, prefix: String = "random", binary: Bool = false
    ) async throws {
        let chunk =
            binary
            ? "string.char(math.random(0, 255), math.random(0, 255), math.random(0, 255), math.random(0, 255), math.random(0, 255), math.random(0, 255), math.random(0, 255), math.random(0, 255))"
            : "string.format('%08x', math.random(0, 2147483647))"
        let script = """
            math.randomseed(tonumber(ARGV[3]))
            for i = 1, tonumber(ARGV[1]) do
              local parts = {}
              for j = 1, tonumber(ARGV[2]) / 8 do parts[j] = \(chunk) end
              redis.call('SET', KEYS[1] .. ':' .. i, table.concat(parts))
            end
            return 1
            """
        let result = try await server.cli(
            ["EVAL", script, "1", prefix, String(count), String(size), String(Int.random(in: 1...1_000_000))],
            input: nil)
        guard result.status == 0, result.stdoutText.contains("1") else {
            throw TestSupportError("random population failed: \(result.stdoutText) \(result.stderrText)")
        }
    }
}
