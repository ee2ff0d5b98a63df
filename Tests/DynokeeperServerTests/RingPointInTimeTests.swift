import DynokeeperConfiguration
import DynokeeperEngine
import DynokeeperServer
import DynokeeperTestSupport
import Foundation
import Testing

/// `ring restore --to-time`: every node of a ring, each archiving its own Redis in its daemon, back to one moment.
@Suite(.tags(.integration)) struct RingPointInTimeTests {
    /// Waits until every node's archiver has Redis's stream up to its current offset.
    static func received(_ ring: RingFixture) async throws {
        for node in ring.nodes {
            let info = try await node.redis.cli(["INFO", "replication"]).stdoutText
            let line = try #require(
                info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("master_repl_offset:") })
            let offset = try #require(Int64(line.dropFirst("master_repl_offset:".count)))
            let archiver = try #require(node.daemon.node.archiver)
            let deadline = ContinuousClock.now + .seconds(30)
            while (await archiver.status.receivedOffset ?? -1) < offset {
                guard ContinuousClock.now < deadline else { throw TestSupportError("\(await archiver.status)") }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }

    /// Without a ring snapshot (none was ever taken): the members restore their own archives, to the same moment.
    @Test func everyNodeGoesBackToTheSameMoment() async throws {
        var redis: [ManagedRedis] = []
        for _ in 0..<2 {
            let server = try ManagedRedis(extra: ["repl-diskless-sync-delay 0"])
            try await server.start()
            redis.append(server)
        }
        try await withRingFixture(
            cluster: "pitr", places: [("dc1", "rack1", "100"), ("dc1", "rack2", "100")], redis: redis,
            moreYAML: "pitr:\n  enabled: true\n  segment_seconds: 1"
        ) { ring in
            for node in ring.nodes {
                let archiver = try #require(node.daemon.node.archiver)
                let deadline = ContinuousClock.now + .seconds(60)
                while await archiver.status.base == nil {
                    guard ContinuousClock.now < deadline else { throw TestSupportError("no base") }
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
            try await ring.populate("the-moment")
            try await Self.received(ring)
            let moment = Date()
            let expected = try await ring.contents()
            #expect(expected[0] != expected[1])
            try await Task.sleep(for: .milliseconds(400))  // a marker after the moment, on every node
            for node in ring.nodes {
                _ = try await node.redis.cli(["FLUSHALL"])
                _ = try await node.redis.cli(["SET", "written", "after the moment"])
            }
            try await Self.received(ring)
            // Stored past the moment on every node (a segment closes every second).
            for node in ring.nodes {
                let archiver = try #require(node.daemon.node.archiver)
                let deadline = ContinuousClock.now + .seconds(30)
                while (await archiver.status.storedUntil ?? .distantPast) < moment {
                    guard ContinuousClock.now < deadline else { throw TestSupportError("\(await archiver.status)") }
                    try await Task.sleep(for: .milliseconds(50))
                }
            }

            let job = try await ring.ringJob("/v1/ring/restores", body: #"{"to_time": "\#(APIJSON.text(moment))"}"#)
            #expect(job["state"] as? String == "succeeded", "\(job)")
            #expect((job["report"] as? [String: Any])?["to_time"] as? String == APIJSON.text(moment), "\(job)")
            let after = try await ring.contents()
            for index in 0..<2 {
                #expect(
                    after[index] == expected[index],
                    "node \(index): \(after[index].differences(from: expected[index]).prefix(5))")
            }

            // A moment one node cannot reach (its archive is gone) and the other can: nothing is stopped anywhere.
            let store = ring.nodes[0].daemon.node.store
            let first = ring.nodes[0].daemon.node.node.identity
            try await store.delete(try await store.listAll(prefix: StreamSegment.archivePrefix(first)).map(\.key))
            _ = try await ring.nodes[1].redis.cli(["SET", "only", "here"])
            var runs: [String?] = []
            for node in ring.nodes { runs.append(try await node.redis.runID()) }
            let refused = try await ring.ringJob(
                "/v1/ring/restores", body: #"{"to_time": "\#(APIJSON.text(moment))"}"#)
            #expect(refused["state"] as? String == "failed", "\(refused)")
            #expect("\(refused)".contains("refused before anything was stopped"), "\(refused)")
            for (index, node) in ring.nodes.enumerated() {
                #expect(try await node.redis.runID() == runs[index])
            }
            #expect(try await ring.nodes[1].redis.cli(["GET", "only"]).stdoutText.contains("here"))
        }
    }
}
