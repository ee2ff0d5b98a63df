import DynokeeperConfiguration
import DynokeeperEngine
import DynokeeperServer
import DynokeeperTestSupport
import Foundation
import Testing

/// Ring-wide backups and restores with three redis-servers and three dynokeeper daemons on loopback.
@Suite(.tags(.integration)) struct RingTests {
    static let places = [("dc1", "rack1", "100"), ("dc1", "rack1", "200"), ("dc1", "rack2", "100")]

    static func nodesOf(_ job: [String: Any]) -> [[String: Any]] {
        (job["report"] as? [String: Any])?["nodes"] as? [[String: Any]] ?? []
    }

    @Test func ringBackupThenRingRestoreGivesEveryNodeItsOwnData() async throws {
        try await withRingFixture(cluster: "prod", places: Self.places) { ring in
            try await ring.populate("prod")
            let before = try await ring.contents()
            #expect(before[0] != before[1])

            let backup = try await ring.ringJob("/v1/ring/backups", body: #"{"type": "rdb"}"#)
            #expect(backup["state"] as? String == "succeeded", "\(backup)")
            let report = try #require(backup["report"] as? [String: Any])
            let id = try #require(report["snapshot_id"] as? String)
            #expect(Self.nodesOf(backup).count == 3)
            #expect(Self.nodesOf(backup).allSatisfy { ($0["result"] as? [String: Any])?["snapshot"] as? String == id })

            // Three node snapshots under one id, and the ring manifest, as awscli sees them.
            let keys = try await ring.storedKeys()
            for (datacenter, rack, tokens) in Self.places {
                #expect(keys.contains("\(ring.prefix)/prod/\(datacenter)/\(rack)/\(tokens)/\(id)/manifest.json"))
            }
            #expect(keys.contains("\(ring.prefix)/prod/_ring/\(id).json"))
            let ringSnapshots = try await ring.call(1, .GET, "/v1/ring/snapshots")
            #expect(ringSnapshots["snapshots"] as? [String] == [id])

            // Every node's data changes; the ring restore brings each node its own back, key by key.
            for node in ring.nodes { _ = try await node.redis.cli(["FLUSHALL"]) }
            try await ring.populate("changed")
            let restore = try await ring.ringJob("/v1/ring/restores", body: "{}")
            #expect(restore["state"] as? String == "succeeded", "\(restore)")
            #expect(Self.nodesOf(restore).allSatisfy { $0["state"] as? String == "succeeded" })
            let after = try await ring.contents()
            for index in 0..<3 {
                #expect(
                    after[index] == before[index],
                    "node \(index): \(after[index].differences(from: before[index]).prefix(5))")
            }

            let dry = try await ring.ringJob("/v1/ring/restores", body: #"{"dry_run": true}"#)
            #expect(dry["state"] as? String == "succeeded")
            #expect((dry["report"] as? [String: Any])?["dry_run"] as? Bool == true)
            #expect(try await ring.contents() == before)
        }
    }

    /// A new cluster started with `restore.on_start` and another cluster as its source: every node fills itself,
    /// when its daemon starts, with its own token's data, and records it.
    @Test func aNewClusterRestoresEveryNodesOwnTokenOnStart() async throws {
        let (production, prefix, bucket) = try await withRingFixture(cluster: "production", places: Self.places) {
            ring in
            try await ring.populate("production")
            #expect(try await ring.ringJob("/v1/ring/backups", body: "{}")["state"] as? String == "succeeded")
            return (try await ring.contents(), ring.prefix, ring.bucket)
        }
        #expect(production[0] != production[1] && production[1] != production[2])
        try await withRingFixture(
            cluster: "fresh", places: Self.places, prefix: prefix, bucket: bucket,
            restoreYAML: ["on_start: true", "source_cluster: production"]
        ) { fresh in
            let deadline = ContinuousClock.now + .seconds(120)
            // Each node stops its Redis while it restores: read until every one has finished.
            var contents = try? await fresh.contents()
            while contents != production && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
                contents = try? await fresh.contents()
            }
            let restored = try #require(contents)
            for index in 0..<3 {
                #expect(restored[index] == production[index], "node \(index) has not its own token's data")
                let status = try await fresh.call(index, .GET, "/v1/status")
                #expect(status["restore_on_start"] as? String == "restored", "\(status)")
            }
        }
    }

    @Test func aFailingNodeLeavesNoRingManifestAndIsNamed() async throws {
        try await withRingFixture(cluster: "prod", places: Self.places) { ring in
            try await ring.populate("prod")
            await ring.nodes[2].redis.stop()  // its backup cannot connect to Redis
            let backup = try await ring.ringJob("/v1/ring/backups", body: "{}")
            #expect(backup["state"] as? String == "failed")
            let failed = Self.nodesOf(backup).filter { $0["state"] as? String != "succeeded" }
            #expect(failed.count == 1)
            #expect(failed.first?["node"] as? String == "dc1/rack2/100")
            #expect((failed.first?["error"] as? String)?.contains("cannot connect to Redis") == true)
            #expect((backup["error"] as? String)?.contains("dc1/rack2/100") == true)
            let keys = try await ring.storedKeys()
            #expect(!keys.contains { $0.contains("/_ring/") })
            // The nodes that succeeded keep usable snapshots of their own.
            #expect(keys.filter { $0.hasSuffix("/manifest.json") }.count == 2)
        }
    }

    @Test func dateChoosesTheRingSnapshotAndAnotherClusterRefreshesThisOne() async throws {
        let clock = ManualClock(ISO8601DateFormatter().date(from: "2027-02-01T02:00:00Z")!)
        let (first, second, prefix, bucket) = try await withRingFixture(
            cluster: "production", places: Self.places, clock: clock
        ) { production in
            try await production.populate("first")
            let first = try await production.contents()
            #expect(try await production.ringJob("/v1/ring/backups", body: "{}")["state"] as? String == "succeeded")
            clock.advance(to: ISO8601DateFormatter().date(from: "2027-02-02T02:00:00Z")!)
            for node in production.nodes { _ = try await node.redis.cli(["FLUSHALL"]) }
            try await production.populate("second")
            let second = try await production.contents()
            #expect(try await production.ringJob("/v1/ring/backups", body: "{}")["state"] as? String == "succeeded")
            return (first, second, production.prefix, production.bucket)
        }

        // A test cluster whose racks are named differently gets production's data, mapped in sorted order.
        try await withRingFixture(
            cluster: "test", places: [("east", "ra", "100"), ("east", "ra", "200"), ("east", "rb", "100")],
            prefix: prefix, bucket: bucket, clock: clock
        ) { test in
            try await test.populate("test-own")
            let restore = try await test.ringJob(
                "/v1/ring/restores", body: #"{"source_cluster": "production", "date": "2027-02-01T12:00"}"#)
            #expect(restore["state"] as? String == "succeeded", "\(restore)")
            #expect((restore["report"] as? [String: Any])?["snapshot_id"] as? String == "20270201T020000Z")
            #expect(
                Self.nodesOf(restore).compactMap { $0["source"] as? String }.sorted() == [
                    "production/dc1/rack1/100", "production/dc1/rack1/200", "production/dc1/rack2/100",
                ])
            #expect(try await test.contents() == first)

            let newest = try await test.ringJob("/v1/ring/restores", body: #"{"source_cluster": "production"}"#)
            #expect((newest["report"] as? [String: Any])?["snapshot_id"] as? String == "20270202T020000Z")
            #expect(try await test.contents() == second)

            let tooEarly = try await test.ringJob(
                "/v1/ring/restores", body: #"{"source_cluster": "production", "date": "2027-01-01"}"#)
            #expect(tooEarly["state"] as? String == "failed")
            #expect((tooEarly["error"] as? String)?.contains("there are: 20270202T020000Z, 20270201T020000Z") == true)
        }
    }
}

extension RingTests {
    @Test(.tags(.process)) func theRingCommandsDriveTheSameThingFromTheCommandLine() async throws {
        try await withRingFixture(cluster: "cli-ring", places: Self.places) { ring in
            try await ring.populate("cli")
            let server = try await SeaweedFS.shared()
            let environment: [String: String?] = [
                "DYNOKEEPER_CLUSTER": "cli-ring", "DYNOKEEPER_STORAGE_URL": "s3://\(ring.bucket)/\(ring.prefix)",
                "DYNOKEEPER_STORAGE_ENDPOINT": server.endpoint, "DYNOKEEPER_SERVER_TOKEN": TestDaemon.token,
                "DYNOKEEPER_RING_PEERS": ring.nodes.map(\.url).joined(separator: ","),
                "DYNOKEEPER_RESTORE_ENABLED": "true",
                "DYNOKEEPER_LOG_LEVEL": "warning", "AWS_ACCESS_KEY_ID": server.accessKey,
                "AWS_SECRET_ACCESS_KEY": server.secretKey,
                "AWS_EC2_METADATA_DISABLED": "true",
            ]
            let backup = try await DynokeeperBinary.run(["ring", "backup"], environment: environment)
            #expect(backup.status == 0, "\(backup.stdoutText) \(backup.stderrText)")
            #expect(backup.stdoutText.contains(": succeeded"))
            #expect(
                backup.stdoutText.split(separator: "\n").filter {
                    $0.contains(" at http://127.0.0.1:") && $0.contains(": succeeded")
                }.count == 3)
            #expect(backup.stdoutText.contains("ring manifest: cli-ring/_ring/"))

            let listed = try await DynokeeperBinary.run(["ring", "snapshots"], environment: environment)
            #expect(listed.status == 0)
            #expect(listed.stdoutText.contains("3 node(s): dc1/rack1/100, dc1/rack1/200, dc1/rack2/100"))

            let dry = try await DynokeeperBinary.run(
                ["ring", "restore", "--dry-run", "--rack-by-rack"], environment: environment)
            #expect(dry.status == 0, "\(dry.stdoutText) \(dry.stderrText)")
            #expect(dry.stdoutText.hasPrefix("ring restore (dry run)"))

            let unmapped = try await DynokeeperBinary.run(
                ["ring", "restore", "--map", "dc1/rack2=dc9/rack9"], environment: environment)
            #expect(unmapped.status == 1)
            #expect(unmapped.stderrText.contains("does not have"))
        }
    }
}

@Suite struct RingMappingTests {
    typealias Place = RingMapping.Place

    @Test func sameNamesMapToThemselves() throws {
        let places = [
            Place(datacenter: "dc1", rack: "r1", tokens: "1"), Place(datacenter: "dc1", rack: "r2", tokens: "1"),
        ]
        let mapping = try RingMapping.map(targets: places, sources: places)
        #expect(places.allSatisfy { mapping[$0] == $0 })
    }

    @Test func differentNamesMapInSortedOrder() throws {
        let sources = [
            Place(datacenter: "us-east-1", rack: "us-east-1c", tokens: "1"),
            Place(datacenter: "us-east-1", rack: "us-east-1d", tokens: "1"),
            Place(datacenter: "us-west-2", rack: "us-west-2a", tokens: "1"),
        ]
        let targets = [
            Place(datacenter: "a", rack: "z1", tokens: "1"), Place(datacenter: "a", rack: "z2", tokens: "1"),
            Place(datacenter: "b", rack: "z9", tokens: "1"),
        ]
        let mapping = try RingMapping.map(targets: targets, sources: sources)
        #expect(mapping[targets[0]] == sources[0])
        #expect(mapping[targets[1]] == sources[1])
        #expect(mapping[targets[2]] == sources[2])
        let explicit = try RingMapping.map(
            targets: targets, sources: sources,
            explicit: ["a/z1": "us-east-1/us-east-1d", "a/z2": "us-east-1/us-east-1c"])
        #expect(explicit[targets[0]] == sources[1])
        #expect(explicit[targets[1]] == sources[0])
    }

    @Test func aMappingThatDoesNotCoverEveryTokenIsRefused() {
        let sources = [Place(datacenter: "dc1", rack: "r1", tokens: "1")]
        let targets = [
            Place(datacenter: "dc1", rack: "r1", tokens: "1"), Place(datacenter: "dc1", rack: "r1", tokens: "2"),
        ]
        let refused = #expect(throws: DynokeeperError.self) {
            _ = try RingMapping.map(targets: targets, sources: sources)
        }
        #expect(refused?.code == .snapshot, "\(String(describing: refused))")
        do {
            _ = try RingMapping.map(targets: targets, sources: sources)
        } catch {
            #expect("\(error)".contains("dc1/r1/2 (no token 2 in source rack dc1/r1)"))
            #expect("\(error)".contains("nothing was stopped"))
        }
        let unmapped = #expect(throws: DynokeeperError.self) {
            _ = try RingMapping.map(targets: targets, sources: sources, explicit: ["dc1/r1": "dc9/r9"])
        }
        #expect(unmapped?.code == .snapshot, "\(String(describing: unmapped))")
    }
}
