import DynokeeperEngine
import DynokeeperTestSupport
import Foundation
import NIOCore
import RedisClient
import Testing

/// The keys of each database counted from the RDB as it streams from Redis's replication link, compared with
/// what Redis itself says, for every value type and encoding Redis 7 writes.
@Suite(.tags(.integration)) struct RDBKeyCounterTests {
    /// Large encodings (hash table, skiplist, quicklist of several nodes, intset), LZF-compressed and integer
    /// strings, a stream with a consumer group, pending entries and a consumer, and keys in three databases.
    static let commands: [String] = {
        var commands: [String] = []
        let many = (0..<200).map { "m\($0)" }
        commands.append("HSET bighash " + many.map { "\($0) value-\($0)" }.joined(separator: " "))
        commands.append(
            "ZADD bigzset " + many.enumerated().map { "\($0.offset).5 \($0.element)" }.joined(separator: " "))
        commands.append("SADD bigset " + many.joined(separator: " "))
        commands.append("SADD intset " + (0..<100).map(String.init).joined(separator: " "))
        commands.append("RPUSH biglist " + (0..<5000).map { "item-\($0)-padding-padding" }.joined(separator: " "))
        commands.append("SET compressible " + String(repeating: "abcabcabc", count: 200))
        commands.append("SET integer 123456789")
        commands.append("SET small -5")
        commands.append("XADD events 1-1 a 1")
        commands.append("XADD events 2-1 b 2")
        commands.append("XGROUP CREATE events readers 0")
        commands.append("XREADGROUP GROUP readers alice COUNT 1 STREAMS events >")
        commands.append("SET expiring soon EX 86400")
        commands.append("SELECT 5")
        commands.append("SET five 5")
        commands.append("HSET fivehash a 1 b 2")
        commands.append("PEXPIRE fivehash 3600000")
        return commands
    }()

    /// INFO keyspace, as counts per database.
    static func keyspace(_ server: RedisServer) async throws -> [Int: RDBKeyCounter.Counts] {
        let info = try await server.command("INFO", "keyspace")
        var counts: [Int: RDBKeyCounter.Counts] = [:]
        for line in info.split(whereSeparator: \.isNewline) where line.hasPrefix("db") {
            let parts = line.split(separator: ":")
            let fields = Dictionary(
                uniqueKeysWithValues: parts[1].split(separator: ",").map { field in
                    let pair = field.split(separator: "=")
                    return (String(pair[0]), Int(pair[1]) ?? 0)
                })
            counts[Int(parts[0].dropFirst(2))!] = .init(keys: fields["keys"] ?? 0, expires: fields["expires"] ?? 0)
        }
        return counts
    }

    @Test func everyTypeIsCountedAsRedisCountsIt() async throws {
        try await withResource(
            RedisServer.start(arguments: ["--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0"])
        ) { server in
            try await RedisDataset.populateAllTypes(server)
            let populated = try await server.cli([], input: Data((Self.commands.joined(separator: "\n") + "\n").utf8))
            #expect(populated.status == 0 && !populated.stdoutText.contains("ERR"), "\(populated.stdoutText)")
            let expected = try await Self.keyspace(server)
            var chunks: [ByteBuffer] = []
            _ = try await RDBTransfer.receive(from: RedisAddress(host: "127.0.0.1", port: server.port)) {
                chunks.append($0)
            }
            // Fed in pieces of 7 bytes too, so that every field is split across chunk boundaries somewhere.
            let whole = chunks.reduce(into: ByteBuffer()) { buffer, chunk in buffer.writeImmutableBuffer(chunk) }
            let small = stride(from: 0, to: whole.readableBytes, by: 7).map {
                whole.getSlice(at: $0, length: min(7, whole.readableBytes - $0))!
            }
            for pieces in [chunks, small] {
                let stream = AsyncStream<ByteBuffer> { continuation in
                    for piece in pieces { continuation.yield(piece) }
                    continuation.finish()
                }
                let counted = try await RDBKeyCounter.count(stream)
                #expect(counted == expected, "\(counted) vs \(expected)")
            }
            #expect(expected[0]?.keys ?? 0 > 340 && expected[5]?.expires == 1)
        }
    }

    @Test func aTruncatedRDBIsAnErrorNotACount() async throws {
        try await withResource(RedisServer.start(arguments: ["--repl-diskless-sync-delay", "0"])) { server in
            try await RedisDataset.populateAllTypes(server)
            var whole = ByteBuffer()
            _ = try await RDBTransfer.receive(from: RedisAddress(host: "127.0.0.1", port: server.port)) { piece in
                var piece = piece
                whole.writeBuffer(&piece)
            }
            let cut = whole.getSlice(at: 0, length: whole.readableBytes / 2)!
            let stream = AsyncStream<ByteBuffer> { continuation in
                continuation.yield(cut)
                continuation.finish()
            }
            await #expect(throws: RDBFormatError.self) { _ = try await RDBKeyCounter.count(stream) }
        }
    }
}
