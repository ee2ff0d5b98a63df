import DynokeeperConfiguration
import DynokeeperEngine
import DynokeeperTestSupport
import Foundation
import Logging
import Testing

@testable import DynokeeperRing

/// A ring whose nodes run different releases: refused before anything starts, and a job a peer accepted is never
/// taken for one it did not.
@Suite struct RingContractTests {
    /// A coordinator of cluster `c` whose only peer is `url`, with a local store in `folder`.
    static func coordinator(peer url: String, folder: TemporaryDirectory) throws -> RingCoordinator {
        let configuration = try DynokeeperConfiguration.parse(
            yaml: """
                cluster: c
                storage:
                  url: file://\(folder.file("store"))
                restore:
                  enabled: true
                ring:
                  peers: [\(url)]
                """, path: folder.file("dynokeeper.yml"))
        let logger = Logger(label: "ring-contract-test")
        return RingCoordinator(
            configuration: configuration, node: try NodeSettings.resolve(configuration),
            store: try StoreFactory.makeStore(configuration.storage, environment: [:], logger: logger),
            peers: PeerClient(token: nil, timeout: .seconds(5), attempts: 1), logger: logger)
    }

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
            try await withScoped(
                coordinator,
                stop: {
                    await $0.peers.shutdown(); try? await $0.store.shutdown()
                }
            ) { coordinator in
                let backup = await #expect(throws: DynokeeperError.self) {
                    _ = try await coordinator.backup(RingBackupRequest())
                }
                #expect(backup?.code == .peer)
                #expect(
                    backup?.message.contains("0.3.0") == true
                        && backup?.message.contains("same dynokeeper release") == true)
                await #expect(throws: DynokeeperError.self) { _ = try await coordinator.restore(RingRestoreRequest()) }
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
}
