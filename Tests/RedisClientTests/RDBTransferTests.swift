import DynokeeperTestSupport
import Foundation
import NIOCore
import RedisClient
import Testing

/// The RDB as a replica receives it (`REPLCONF rdb-only 1` + `PSYNC ? -1`), streamed by a real redis-server: diskless
/// (as the fork writes it) and from disk, checked by redis-check-rdb and against the server's own key count.
@Suite(.tags(.integration)) struct RDBTransferTests {
    /// Receives the RDB of `server` into a file, checks it with redis-check-rdb, and returns the summary and the
    /// number of keys the checker read.
    static func receive(_ server: RedisServer, password: String? = nil) async throws -> (RDBTransfer.Summary, Int) {
        let folder = try TemporaryDirectory(prefix: "rdb-transfer")
        defer { folder.remove() }
        var received = Data()
        let summary = try await RDBTransfer.receive(
            from: RedisAddress(host: "127.0.0.1", port: server.port),
            credentials: password.map { RedisCredentials(password: $0) }
        ) { piece in received.append(contentsOf: piece.readableBytesView) }
        #expect(summary.bytes == Int64(received.count))
        #expect(received.starts(with: Array("REDIS".utf8)), "an RDB starts with REDIS and its version")
        let path = folder.file("dump.rdb")
        try received.write(to: URL(fileURLWithPath: path))
        let check = try await ProcessRunner.run("redis-check-rdb", [path], timeout: .seconds(60))
        #expect(check.status == 0, "\(check.stdoutText)")
        let keys = check.stdoutText.split(separator: "\n").compactMap { line -> Int? in
            guard let range = line.range(of: " keys read") else { return nil }
            return Int(line[..<range.lowerBound].split(separator: " ").last ?? "")
        }.first
        return (summary, try #require(keys, "\(check.stdoutText)"))
    }

    @Test func disklessSyncStreamsTheRDBAsTheForkWritesIt() async throws {
        try await withResource(
            RedisServer.start(arguments: ["--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0"])
        ) { server in
            let counts = try await RedisDataset.populateAllTypes(server)
            let (summary, keys) = try await Self.receive(server)
            #expect(summary.diskless)
            #expect(keys == counts.values.reduce(0, +))
            // The position of the fork: the replication id and offset INFO reports.
            let info = try await server.cli(["INFO", "replication"]).stdoutText
            let position = try #require(summary.position)
            #expect(info.contains("master_replid:\(position.replicationID)"))
            #expect(info.contains("master_repl_offset:\(position.offset)"))
        }
    }

    @Test func diskSyncSendsTheFileWithItsLength() async throws {
        try await withResource(
            RedisServer.start(arguments: ["--repl-diskless-sync", "no"], password: "transfer-secret")
        ) { server in
            let counts = try await RedisDataset.populateAllTypes(server)
            let (summary, keys) = try await Self.receive(server, password: "transfer-secret")
            #expect(!summary.diskless)
            #expect(keys == counts.values.reduce(0, +))
        }
    }

    /// A user without PSYNC (the least-privilege ACL of the README) is refused with Redis's own words, so that a
    /// backup can fall back to BGSAVE.
    @Test func aUserWithoutSyncIsRefusedClearly() async throws {
        try await withResource(RedisServer.start()) { server in
            _ = try await server.cli([
                "ACL", "SETUSER", "backup", "on", ">backup-secret", "-@all", "+info", "+replconf",
            ])
            let refused = await #expect(throws: RedisError.self) {
                _ = try await RDBTransfer.receive(
                    from: RedisAddress(host: "127.0.0.1", port: server.port),
                    credentials: RedisCredentials(user: "backup", password: "backup-secret")
                ) { _ in }
            }
            #expect(refused?.description.contains("PSYNC") == true, "\(String(describing: refused))")
            #expect(refused?.description.contains("backup-secret") == false)
        }
    }
}
