import DynokeeperConfiguration
import DynokeeperEngine
import DynokeeperTestSupport
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import Testing

@testable import DynokeeperRing

/// A ring whose nodes run different releases: refused before anything starts, and a job a peer accepted is never
/// taken for one it did not.
@Suite struct RingContractTests {
    /// A coordinator of cluster `c` whose only peer is `url`, with a local store in `folder`.
    static func coordinator(
        peer url: String, folder: TemporaryDirectory, now: @escaping @Sendable () -> Date = Date.init,
        more: [String] = [], peers: PeerClient = PeerClient(token: nil, timeout: .seconds(5), attempts: 1),
        extra: String = ""
    ) throws -> RingCoordinator {
        let configuration = try DynokeeperConfiguration.parse(
            yaml: """
                cluster: c
                storage:
                  url: file://\(folder.file("store"))
                restore:
                  enabled: true
                ring:
                  peers: [\(([url] + more).joined(separator: ", "))]
                \(extra)
                """, path: folder.file("dynokeeper.yml"))
        let logger = Logger(label: "ring-contract-test")
        return RingCoordinator(
            configuration: configuration, node: try NodeSettings.resolve(configuration),
            store: try StoreFactory.makeStore(configuration.storage, environment: [:], logger: logger),
            peers: peers, logger: logger, now: now,
            pollInterval: .milliseconds(10))
    }

    /// Runs `body` with `coordinator`, and shuts its peer client and store down afterwards.
    static func withCoordinator<Result>(
        _ coordinator: RingCoordinator, _ body: (RingCoordinator) async throws -> Result
    ) async throws -> Result {
        try await withScoped(
            coordinator,
            stop: {
                await $0.peers.shutdown(); try? await $0.store.shutdown()
            }, body)
    }

    /// What a dynokeeper of this release answers, as node c dc1/rack1/0.
    static let currentStatus =
        #"{"contract": 2, "node": {"cluster": "c", "datacenter": "dc1", "rack": "rack1", "tokens": "0"}}"#

    /// What a dynokeeper before contract 2 answered: no `contract`, results as strings.
    static let oldStatus = """
        {"version": "0.3.0", "node": {"cluster": "c", "datacenter": "dc1", "rack": "rack1", "tokens": "0"},
         "last_backup": {"id": "backup-1", "kind": "backup", "state": "succeeded", "result": {"keys": "351"},
                         "parameters": {"type": "rdb"}, "trigger": "api", "created_at": "2026-11-29T00:00:00Z"}}
        """

    @Test func aPeerOnAnOlderReleaseIsRefusedBeforeAnythingStarts() async throws {
        let folder = try TemporaryDirectory(prefix: "ring-contract")
        defer { folder.remove() }
        let peer = try await FakeHTTPServer.start { request in
            request.method == "GET" && request.path == "/v1/status"
                ? .init(body: Self.oldStatus) : .init(status: 202, body: #"{"id": "backup-x-1"}"#)
        }
        try await withScoped(peer, stop: { await $0.stop() }) { peer in
            let coordinator = try Self.coordinator(peer: peer.url, folder: folder)
            try await Self.withCoordinator(coordinator) { coordinator in
                let backup = await #expect(throws: DynokeeperError.self) {
                    _ = try await coordinator.backup(RingBackupRequest())
                }
                #expect(backup?.code == .peer)
                #expect(
                    backup?.message.contains("0.3.0") == true
                        && backup?.message.contains("same dynokeeper release") == true)
                // A ring restore from a ring snapshot that exists is refused for the peer, before anything stops.
                let id = try #require(SnapshotID("20261129T020000Z"))
                let node = RingManifest.Node(
                    datacenter: "dc1", rack: "rack1", tokens: "0", prefix: "c/dc1/rack1/0/\(id)/", url: peer.url)
                let manifest = RingManifest(
                    snapshotID: id, cluster: "c", type: .rdb, nodes: [node], startedAt: id.date, finishedAt: id.date)
                try await coordinator.store.put(
                    RingManifest.key(cluster: "c", id: id),
                    bytes: .init(bytes: SnapshotManifest.encoder.encode(manifest)))
                let restore = await #expect(throws: DynokeeperError.self) {
                    _ = try await coordinator.restore(RingRestoreRequest())
                }
                #expect(restore?.code == .peer && restore?.message.contains("same dynokeeper release") == true)
            }
            // Nothing was asked of the peer but who it is.
            #expect(
                peer.requests.allSatisfy { $0.method == "GET" && $0.path == "/v1/status" },
                "\(peer.requests.map(\.uri))")
        }
    }

    /// A 202 is a started job, whatever else its body holds: reading it as "not started" would report a node as
    /// failed while it restores.
    @Test func anAcceptedJobIsReadByItsIdAlone() async throws {
        let peer = try await FakeHTTPServer.start { _ in
            .init(status: 202, body: #"{"id": "restore-x-1", "parameters": {"dry_run": "false"}, "result": 7}"#)
        }
        let client = PeerClient(token: nil, timeout: .seconds(5), attempts: 1)
        try await withScoped(
            (peer, client),
            stop: {
                await $0.1.shutdown(); await $0.0.stop()
            }
        ) { peer, client in
            let id = try await client.startRestore(peer.url, RestoreRequest(snapshot: SnapshotID("20261129T000000Z")))
            #expect(id == "restore-x-1")
            let sent = try #require(peer.requests.first)
            let body = try #require(try JSONSerialization.jsonObject(with: Data(sent.body)) as? [String: Any])
            #expect(sent.path == "/v1/restores" && body["snapshot"] as? String == "20261129T000000Z")
        }
    }

    /// A backup request that timed out but started the job on the peer: the retry gets 409, and the coordinator
    /// recognises the peer's running job (same kind, same snapshot id) as its own instead of failing the node.
    @Test func aPostThatTimedOutButStartedTheJobIsFollowedNotFailed() async throws {
        let folder = try TemporaryDirectory(prefix: "ring-timeout")
        defer { folder.remove() }
        let posts = CallCounter()
        let asked = NIOLockedValueBox<String?>(nil)
        let peer = try await FakeHTTPServer.start { request in
            let snapshot = asked.withLockedValue { $0 } ?? ""
            let job =
                #"{"id": "backup-7", "kind": "backup", "parameters": {"snapshot": "\#(snapshot)"}, "trigger": "api", "progress_bytes": 0, "total_bytes": 0, "created_at": "2026-11-29T00:00:00Z""#
            switch (request.method, request.path) {
            case ("GET", "/v1/status"):
                let running = snapshot.isEmpty ? "" : #", "current_job": \#(job), "state": "running"}"#
                return .init(
                    body:
                        #"{"contract": 2, "node": {"cluster": "c", "datacenter": "dc1", "rack": "rack1", "tokens": "0"}\#(running)}"#
                )
            case ("POST", "/v1/backups"):
                let body = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any]
                asked.withLockedValue { $0 = body?["snapshot_id"] as? String }
                if posts.next() == 1 {
                    // Started, but the answer comes after the caller gave up.
                    try? await Task.sleep(for: .seconds(3))
                    return .init(status: 202, body: job + #", "state": "running"}"#)
                }
                return .init(
                    status: 409, body: #"{"error": {"code": "job_running", "message": "backup-7 is running"}}"#)
            case ("GET", "/v1/jobs/backup-7"):
                return .init(
                    body: job
                        + #", "state": "succeeded", "result": {"snapshot": "\#(snapshot)"}, "finished_at": "2026-11-29T00:00:01Z"}"#
                )
            default:
                return .init(status: 404, body: "")
            }
        }
        try await withScoped(peer, stop: { await $0.stop() }) { peer in
            let coordinator = try Self.coordinator(
                peer: peer.url, folder: folder, peers: PeerClient(token: nil, timeout: .seconds(1), attempts: 2))
            try await Self.withCoordinator(coordinator) { coordinator in
                let report = try await coordinator.backup(RingBackupRequest())
                #expect(posts.count == 2, "the POST was retried")
                #expect(report.nodes.first?.state == .succeeded, "\(report.nodes)")
                #expect(report.nodes.first?.job == "backup-7", "\(report)")
            }
        }
    }

    /// A peer's running restore is taken as ours only when it is the same restore: a dry run of the same snapshot,
    /// or one from another source, is not (the node would be reported restored with its old data).
    @Test func onlyTheSameRestoreIsAdoptedAfterA409() async throws {
        let running = NIOLockedValueBox<String>("")
        let peer = try await FakeHTTPServer.start { request in
            switch (request.method, request.path) {
            case ("GET", "/v1/status"):
                return .init(
                    body:
                        #"{"contract": 2, "node": {"cluster": "c", "datacenter": "dc1", "rack": "rack1", "tokens": "0"}, "current_job": {"id": "restore-9", "kind": "restore", "state": "running", "trigger": "api", "progress_bytes": 0, "total_bytes": 0, "created_at": "2026-11-29T00:00:00Z", "parameters": \#(running.withLockedValue { $0 })}}"#
                )
            case ("POST", "/v1/restores"):
                return .init(
                    status: 409, body: #"{"error": {"code": "job_running", "message": "restore-9 is running"}}"#)
            default: return .init(status: 404, body: "")
            }
        }
        try await withScoped(peer, stop: { await $0.stop() }) { peer in
            let client = PeerClient(token: nil, timeout: .seconds(5), attempts: 1)
            defer { Task { await client.shutdown() } }
            let id = try #require(SnapshotID("20261129T000000Z"))
            let request = RestoreRequest(snapshot: id, sourceCluster: "prod", sourceRack: "rack1")
            for (parameters, adopted) in [
                (#"{"snapshot": "20261129T000000Z", "source": "prod/dc1/rack1/0"}"#, true),
                (#"{"snapshot": "20261129T000000Z", "source": "prod/dc1/rack1/0", "dry_run": true}"#, false),
                (#"{"snapshot": "20261129T000000Z", "source": "prod/dc1/rack2/0"}"#, false),
                (#"{"snapshot": "20261128T000000Z", "source": "prod/dc1/rack1/0"}"#, false),
            ] {
                running.withLockedValue { $0 = parameters }
                let outcome = try? await client.startRestore(peer.url, request)
                #expect((outcome == "restore-9") == adopted, "\(parameters)")
            }
        }
    }

    /// A ring that encrypts takes a ring snapshot whose node snapshots are in clear only when it is named: chosen as
    /// the newest, it may have been planted in the bucket. Nothing is asked of any node.
    @Test func aRingThatEncryptsTakesARingSnapshotInClearOnlyByItsId() async throws {
        let folder = try TemporaryDirectory(prefix: "ring-clear")
        defer { folder.remove() }
        let key = folder.file("key")
        FileManager.default.createFile(
            atPath: key, contents: Data((0..<32).map { UInt8($0) }), attributes: [.posixPermissions: 0o600])
        let peer = try await FakeHTTPServer.start { request in
            guard request.path == "/v1/status" else { return .init(status: 500, body: "") }
            return .init(
                body: #"{"contract": 2, "node": {"cluster": "c", "datacenter": "dc1", "rack": "rack1", "tokens": "0"}}"#
            )
        }
        try await withScoped(peer, stop: { await $0.stop() }) { peer in
            let coordinator = try Self.coordinator(
                peer: peer.url, folder: folder, extra: "encryption:\n  key_file: \(key)")
            try await Self.withCoordinator(coordinator) { coordinator in
                let id = try #require(SnapshotID("20261129T020000Z"))
                let identity = NodeIdentity(cluster: "c", datacenter: "dc1", rack: "rack1", tokens: "0")
                let prefix = SnapshotLayout.snapshotPrefix(identity, id)
                // A node snapshot in clear (no encryption in its manifest).
                var object = try #require(
                    try JSONSerialization.jsonObject(
                        with: Data(
                            ContractValues.manifestJSON
                                .replacingOccurrences(of: "20261124T020000Z", with: id.text)
                                .replacingOccurrences(of: #""cluster": "prod""#, with: #""cluster": "c""#)
                                .replacingOccurrences(of: #""tokens": "100""#, with: #""tokens": "0""#).utf8))
                        as? [String: Any])
                object["encryption"] = nil
                object["format"] = 1
                let manifest = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
                _ = try await coordinator.store.put(prefix + "dump.rdb.zst", bytes: ByteBuffer(repeating: 1, count: 20))
                _ = try await coordinator.store.put(prefix + "manifest.json", bytes: ByteBuffer(string: manifest))
                let node = RingManifest.Node(
                    datacenter: "dc1", rack: "rack1", tokens: "0", prefix: prefix, url: peer.url)
                let ring = RingManifest(
                    snapshotID: id, cluster: "c", type: .rdb, nodes: [node], startedAt: id.date, finishedAt: id.date)
                try await coordinator.store.put(
                    RingManifest.key(cluster: "c", id: id), bytes: .init(bytes: SnapshotManifest.encoder.encode(ring)))
                let error = await #expect(throws: DynokeeperError.self) {
                    _ = try await coordinator.restore(RingRestoreRequest())
                }
                #expect(error?.message.contains("stored in clear") == true, "\(String(describing: error))")
                #expect(!peer.requests.contains { $0.method == "POST" })
            }
        }
    }

    /// Two dynokeepers that claim one node (a copied configuration) are an error naming both, before anything is
    /// asked of either; one dynokeeper listed under two URLs (one instance) is one member.
    @Test func twoPeersClaimingOneNodeAreRefusedAndOneNodeUnderTwoURLsCountsOnce() async throws {
        let folder = try TemporaryDirectory(prefix: "ring-twins")
        defer { folder.remove() }
        func peer(instance: String) async throws -> FakeHTTPServer {
            try await FakeHTTPServer.start { request in
                switch (request.method, request.path) {
                case ("GET", "/v1/status"):
                    return .init(
                        body:
                            #"{"contract": 2, "instance": "\#(instance)", "node": {"cluster": "c", "datacenter": "dc1", "rack": "rack1", "tokens": "0"}}"#
                    )
                case ("POST", "/v1/backups"): return .init(status: 202, body: #"{"id": "backup-1"}"#)
                default: return .init(body: "")
                }
            }
        }
        let first = try await peer(instance: "aaaa")
        let second = try await peer(instance: "bbbb")
        try await withScoped([first, second], stop: { for peer in $0 { await peer.stop() } }) { peers in
            let twins = try Self.coordinator(peer: peers[0].url, folder: folder, more: [peers[1].url])
            try await Self.withCoordinator(twins) { coordinator in
                let error = await #expect(throws: DynokeeperError.self) {
                    _ = try await coordinator.backup(RingBackupRequest())
                }
                #expect(error?.code == .peer)
                #expect(error?.message.contains(peers[0].url) == true && error?.message.contains(peers[1].url) == true)
                #expect(error?.message.contains("both claim node dc1/rack1/0") == true, "\(String(describing: error))")
                #expect(!peers.contains { $0.requests.contains { $0.method == "POST" } })
            }
            // The first peer twice (as localhost and 127.0.0.1): one member, one backup asked for.
            let alias = peers[0].url.replacingOccurrences(of: "127.0.0.1", with: "localhost")
            let once = try Self.coordinator(peer: peers[0].url, folder: folder, more: [alias])
            try await Self.withCoordinator(once) { coordinator in
                let members = try await coordinator.members().members
                #expect(members.count == 1)
            }
        }
    }

    /// The ring manifest gives each node its own figures (size, stored size, keys): the peers' outcomes come in the
    /// order of their URLs, the nodes in the ring's order, and here the two differ.
    @Test func theRingManifestGivesEachNodeItsOwnFigures() async throws {
        let folder = try TemporaryDirectory(prefix: "ring-figures")
        defer { folder.remove() }
        /// A peer of this release: its rack is set once the URLs are known, and it backs up under the id it is given.
        func peer(rack: NIOLockedValueBox<String>, keys: Int) async throws -> FakeHTTPServer {
            let asked = NIOLockedValueBox("")
            return try await FakeHTTPServer.start { request in
                let snapshot = asked.withLockedValue { $0 }
                switch (request.method, request.path) {
                case ("GET", "/v1/status"):
                    return .init(
                        body:
                            #"{"contract": 2, "node": {"cluster": "c", "datacenter": "dc1", "rack": "\#(rack.withLockedValue { $0 })", "tokens": "0"}}"#
                    )
                case ("POST", "/v1/backups"):
                    let body = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any]
                    asked.withLockedValue { $0 = body?["snapshot_id"] as? String ?? "" }
                    return .init(status: 202, body: #"{"id": "backup-1"}"#)
                case ("GET", "/v1/jobs/backup-1"):
                    return .init(
                        body:
                            #"{"id": "backup-1", "kind": "backup", "state": "succeeded", "parameters": {}, "trigger": "api", "progress_bytes": 0, "total_bytes": 0, "created_at": "2026-11-29T00:00:00Z", "finished_at": "2026-11-29T00:00:01Z", "result": {"snapshot": "\#(snapshot)", "keys": \#(keys), "size": \#(keys * 10), "stored_size": \#(keys * 5)}}"#
                    )
                default:
                    return .init(status: 404, body: "")
                }
            }
        }
        let racks = [NIOLockedValueBox("rack1"), NIOLockedValueBox("rack1")]
        let peers = [try await peer(rack: racks[0], keys: 201), try await peer(rack: racks[1], keys: 1)]
        try await withScoped(peers, stop: { for peer in $0 { await peer.stop() } }) { peers in
            // The URL that sorts first is rack2's, so that the ring's order (rack1 first) is not the URLs'.
            let first = peers[0].url < peers[1].url ? 0 : 1
            racks[first].withLockedValue { $0 = "rack2" }
            let coordinator = try Self.coordinator(peer: peers[0].url, folder: folder, more: [peers[1].url])
            try await Self.withCoordinator(coordinator) { coordinator in
                let report = try await coordinator.backup(RingBackupRequest())
                #expect(report.succeeded, "\(report)")
                let key = try #require(report.ringManifest)
                let manifest = try SnapshotManifest.decoder.decode(
                    RingManifest.self,
                    from: Data(buffer: try await coordinator.store.get(key, range: nil).body.collect(upTo: 1 << 20)))
                for node in manifest.nodes {
                    let index = try #require(peers.firstIndex { $0.url == node.url })
                    let keys = index == 0 ? 201 : 1
                    #expect(node.rack == racks[index].withLockedValue { $0 })
                    #expect(node.keys == keys && node.size == Int64(keys * 10), "\(node)")
                    #expect(node.storedSize == Int64(keys * 5), "\(node)")
                }
                #expect(manifest.nodes.map(\.rack) == ["rack1", "rack2"])
            }
        }
    }

    /// A node whose job reports a failure while its snapshot is complete in the store (its POST retried after a
    /// time-out found the id taken by the backup the first one started) took part: the ring snapshot is complete.
    @Test func aNodeWhoseSnapshotIsInTheStoreTookPartWhateverItsJobSays() async throws {
        let folder = try TemporaryDirectory(prefix: "ring-lost-answer")
        defer { folder.remove() }
        let store = folder.file("store")
        let peer = try await FakeHTTPServer.start { request in
            switch (request.method, request.path) {
            case ("GET", "/v1/status"):
                return .init(body: Self.currentStatus)
            case ("POST", "/v1/backups"):
                // The first POST's backup, stored; its answer is what was lost.
                let body = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any]
                let id = body?["snapshot_id"] as? String ?? ""
                let prefix = store + "/c/dc1/rack1/0/\(id)/"
                let manifest = ContractValues.manifestJSON
                    .replacingOccurrences(of: "20261124T020000Z", with: id)
                    .replacingOccurrences(of: #""cluster": "prod""#, with: #""cluster": "c""#)
                    .replacingOccurrences(of: #""tokens": "100""#, with: #""tokens": "0""#)
                    .replacingOccurrences(
                        of: #","# + "\n"
                            + #"         "encryption": {"algorithm": "aes-256-gcm-chunked", "key_fingerprint": "0a1b2c", "chunk_size": 1048576}}"#,
                        with: "}")
                try? FileManager.default.createDirectory(atPath: prefix, withIntermediateDirectories: true)
                FileManager.default.createFile(atPath: prefix + "dump.rdb.zst", contents: Data(count: 20))
                FileManager.default.createFile(atPath: prefix + "manifest.json", contents: Data(manifest.utf8))
                return .init(status: 202, body: #"{"id": "backup-2"}"#)
            case ("GET", "/v1/jobs/backup-2"):
                return .init(
                    body:
                        #"{"id": "backup-2", "kind": "backup", "state": "failed", "parameters": {}, "trigger": "api", "progress_bytes": 0, "total_bytes": 0, "created_at": "2026-11-29T00:00:00Z", "finished_at": "2026-11-29T00:00:01Z", "error": "snapshot of node c dc1/rack1/0 already exists"}"#
                )
            default:
                return .init(status: 404, body: "")
            }
        }
        try await withScoped(peer, stop: { await $0.stop() }) { peer in
            let coordinator = try Self.coordinator(peer: peer.url, folder: folder)
            try await Self.withCoordinator(coordinator) { coordinator in
                let report = try await coordinator.backup(RingBackupRequest())
                #expect(report.succeeded && report.ringManifest != nil, "\(report)")
                #expect(report.nodes.first?.state == .succeeded && report.nodes.first?.result?.keys == 3, "\(report)")
            }
        }
    }

    /// Snapshot ids are to the second: a ring backup in the second of the newest ring snapshot takes the next one,
    /// rather than an id whose node snapshots exist (the nodes would refuse it).
    @Test func aRingBackupInTheSecondOfThePreviousOneTakesTheNext() async throws {
        let folder = try TemporaryDirectory(prefix: "ring-fresh")
        defer { folder.remove() }
        // A peer of this release that backs up under the id it is given and reports it.
        let peer = try await FakeHTTPServer.start { request in
            switch (request.method, request.path) {
            case ("GET", "/v1/status"):
                return .init(body: Self.currentStatus)
            case ("POST", "/v1/backups"):
                return .init(status: 202, body: #"{"id": "backup-1"}"#)
            default:
                return .init(body: "")
            }
        }
        try await withScoped(peer, stop: { await $0.stop() }) { peer in
            let id = try #require(SnapshotID("20261129T020000Z"))
            // The clock stands still in that second.
            let coordinator = try Self.coordinator(
                peer: peer.url, folder: folder, now: { id.date.addingTimeInterval(0.2) })
            try await Self.withCoordinator(coordinator) { coordinator in
                let node = RingManifest.Node(datacenter: "dc1", rack: "rack1", tokens: "0", prefix: "p/", url: peer.url)
                let manifest = RingManifest(
                    snapshotID: id, cluster: "c", type: .rdb, nodes: [node], startedAt: id.date, finishedAt: id.date)
                try await coordinator.store.put(
                    RingManifest.key(cluster: "c", id: id),
                    bytes: .init(bytes: SnapshotManifest.encoder.encode(manifest)))
                // The job's answer cannot be followed (the fake says nothing): the report fails, but it names the id.
                let report = try await coordinator.backup(RingBackupRequest())
                #expect(report.snapshotID == "20261129T020001Z", "\(report)")
                let asked = try #require(peer.requests.first { $0.method == "POST" })
                let body = try #require(try JSONSerialization.jsonObject(with: Data(asked.body)) as? [String: Any])
                #expect(body["snapshot_id"] as? String == "20261129T020001Z")
            }
        }
    }
}
