import DynokeeperTestSupport
import Foundation
import NIOCore
import RedisClient
import Synchronization
import Testing

/// dynokeeper following a real redis-server as a replica (`PSYNC`): the RDB of a full resynchronisation, then the
/// command stream with its offsets, acknowledged so that `WAIT` counts it, and continued after a reconnection.
@Suite(.tags(.integration)) struct ReplicationLinkTests {
    /// What a link saw, kept for the test.
    final class Seen: Sendable {
        struct State {
            var start: ReplicationLink.Event?
            var rdb = Data()
            var rdbEnded = false
            var commands: [(name: String, raw: [UInt8], offset: Int64)] = []
        }
        let state = Mutex(State())
    }

    /// Follows `server` in a task until `until` holds (bounded), then stops.
    static func follow(
        _ server: RedisServer, from position: ReplicationLink.Position?,
        until: @escaping @Sendable (Seen.State) -> Bool,
        while body: () async throws -> Void
    ) async throws -> Seen.State {
        let seen = Seen()
        let link = Task {
            try await ReplicationLink.follow(RedisAddress(host: "127.0.0.1", port: server.port), from: position) {
                event in
                seen.state.withLock { state in
                    switch event {
                    case .fullSync, .continued: state.start = event
                    case .rdb(let piece): state.rdb.append(contentsOf: piece.readableBytesView)
                    case .rdbEnd: state.rdbEnded = true
                    case .command(let raw, let name, let offset):
                        state.commands.append((name, Array(raw.readableBytesView), offset))
                    }
                }
            }
        }
        defer { link.cancel() }
        try await body()
        let deadline = ContinuousClock.now + .seconds(30)
        while !until(seen.state.withLock { $0 }) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        link.cancel()
        _ = await link.result
        return seen.state.withLock { $0 }
    }

    /// Waits until the link is an online replica: writes from then on come in the stream, not in the RDB (a replica
    /// counts in `connected_slaves` while Redis still prepares its RDB).
    static func waitUntilOnline(_ server: RedisServer) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while !(try await server.command("INFO", "replication").contains("state=online")),
            ContinuousClock.now < deadline
        {
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    static func masterOffset(_ server: RedisServer) async throws -> Int64 {
        let info = try await server.command("INFO", "replication")
        let line = info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("master_repl_offset:") }
        return Int64(line?.split(separator: ":").last ?? "") ?? -1
    }

    @Test func aFullSyncGivesTheRDBThenEveryCommandWithItsOffset() async throws {
        try await withResource(
            RedisServer.start(arguments: ["--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0"])
        ) { server in
            _ = try await server.command("SET", "before", "1")
            let binary = Data([0, 255, 13, 10, 42])
            let target = try await Self.masterOffset(server)
            let state = try await Self.follow(
                server, from: nil,
                until: { state in state.commands.contains { $0.name == "incr" } }
            ) {
                // Once the link is attached, writes of several kinds; the last one ends the test.
                try await Self.waitUntilOnline(server)
                _ = try await server.cli(["-x", "SET", "binary"], input: binary)
                _ = try await server.command("SELECT", "3")
                _ = try await server.cli(["-n", "3", "SET", "in-db-3", "x"])
                _ = try await server.command("INCR", "counter")
                // WAIT returns once the link acknowledged the writes.
                #expect(try await server.command("WAIT", "1", "5000") == "1")
            }
            guard case .fullSync(let position)? = state.start else {
                Issue.record("no full resynchronisation: \(String(describing: state.start))")
                return
            }
            #expect(position.offset >= target && position.replicationID.count == 40)
            #expect(state.rdbEnded && state.rdb.starts(with: Array("REDIS".utf8)))
            let names = state.commands.map(\.name)
            #expect(names.contains("set") && names.contains("select") && names.contains("incr"), "\(names)")
            // The binary value arrives byte for byte, and each offset is the previous one plus the command's bytes.
            #expect(state.commands.contains { $0.name == "set" && Data($0.raw).range(of: binary) != nil })
            var offset = position.offset
            for command in state.commands {
                offset += Int64(command.raw.count)
                #expect(command.offset == offset)
            }
            // The master may have pinged since (its offset moves on), never sent less.
            #expect(offset <= (try await Self.masterOffset(server)))
        }
    }

    @Test func aReconnectionContinuesWhereItStopped() async throws {
        try await withResource(RedisServer.start()) { server in
            let first = try await Self.follow(server, from: nil, until: { $0.commands.contains { $0.name == "set" } }) {
                try await Self.waitUntilOnline(server)
                _ = try await server.command("SET", "a", "1")
            }
            guard case .fullSync(let start)? = first.start, let last = first.commands.last else {
                Issue.record("the first link saw no full sync or no command")
                return
            }
            // Written while nothing follows: still in Redis's backlog, sent on the partial resynchronisation.
            _ = try await server.command("SET", "b", "2")
            let position = ReplicationLink.Position(replicationID: start.replicationID, offset: last.offset)
            let second = try await Self.follow(
                server, from: position, until: { $0.commands.contains { $0.name == "set" } }, while: {})
            guard case .continued(let continued)? = second.start else {
                Issue.record("no partial resynchronisation: \(String(describing: second.start))")
                return
            }
            #expect(continued.offset == last.offset && second.rdb.isEmpty)
            let set = try #require(second.commands.first { $0.name == "set" })
            #expect(String(decoding: set.raw, as: UTF8.self).contains("$1\r\nb\r\n$1\r\n2\r\n"))
        }
    }

    /// A master that sends nothing for longer than the idle timeout (here blocked by DEBUG SLEEP) ends the link
    /// with a timeout, not a quiet return.
    @Test func aSilentMasterEndsTheLinkWithATimeout() async throws {
        try await withResource(RedisServer.start(arguments: ["--enable-debug-command", "local"])) { server in
            let attached = Seen()
            let link = Task {
                try await ReplicationLink.follow(
                    RedisAddress(host: "127.0.0.1", port: server.port), from: nil, idleTimeout: .seconds(1)
                ) { event in
                    if case .rdbEnd = event { attached.state.withLock { $0.rdbEnded = true } }
                }
            }
            let deadline = ContinuousClock.now + .seconds(20)
            while !attached.state.withLock({ $0.rdbEnded }) && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            _ = try await server.command("DEBUG", "SLEEP", "3")
            let outcome = await link.result
            guard case .failure(let error) = outcome else {
                Issue.record("the link returned without an error after the master fell silent")
                return
            }
            guard case RedisError.timeout(let command, _)? = error as? RedisError else {
                Issue.record("expected a timeout, got \(error)")
                return
            }
            #expect(command == "PSYNC")
        }
    }
}
