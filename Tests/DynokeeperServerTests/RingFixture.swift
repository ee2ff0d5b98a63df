import AsyncHTTPClient
import DynokeeperConfiguration
import DynokeeperServer
import DynokeeperTestSupport
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Testing

/// Several nodes of one ring on loopback: a managed redis-server and an in-process dynokeeper daemon each,
/// sharing a store on SeaweedFS and a bearer token, every daemon listing all of them in `ring.peers`.
struct RingFixture {
    struct Node {
        let redis: ManagedRedis
        let daemon: DynokeeperDaemon
        let task: Task<Void, any Error>
        let port: Int
        let place: (datacenter: String, rack: String, tokens: String)
        var url: String { "http://127.0.0.1:\(port)" }
    }

    let nodes: [Node]
    let cluster: String
    let bucket: String
    let prefix: String
    let client: HTTPClient

    /// - Parameters:
    ///   - cluster: The ring's cluster name.
    ///   - places: Each node's datacenter, rack and tokens.
    ///   - redis: Managed Redis servers to reuse (a new one per node by default).
    ///   - prefix: The store prefix (shared between rings that must see each other's snapshots).
    ///   - clock: The nodes' clock, which dates the ring snapshots the first one coordinates (and against which
    ///     each node checks the snapshot ids it is given).
    ///   - restoreYAML: More lines of each node's `restore` section.
    ///   - moreYAML: More top-level sections of each node's configuration.
    static func start(
        cluster: String, places: [(String, String, String)], redis: [ManagedRedis]? = nil, prefix: String? = nil,
        bucket: String? = nil, clock: any SchedulerClock = SystemSchedulerClock(), restoreYAML: [String] = [],
        moreYAML: String = ""
    ) async throws -> RingFixture {
        let server = try await SeaweedFS.shared()
        var chosenBucket = bucket
        if chosenBucket == nil { chosenBucket = try await server.makeBucket("ring") }
        let bucket = chosenBucket!
        let prefix = prefix ?? "ring-\(UUID().uuidString.prefix(8))"
        let ports = try places.map { _ in try FreePort.next() }
        let peers = ports.map { "http://127.0.0.1:\($0)" }
        var nodes: [Node] = []
        for (index, place) in places.enumerated() {
            let managed: ManagedRedis
            if let redis {
                managed = redis[index]
            } else {
                managed = try ManagedRedis()
                try await managed.start()
            }
            let yaml = """
                cluster: \(cluster)
                node:
                  datacenter: \(place.0)
                  rack: \(place.1)
                  tokens: "\(place.2)"
                redis:
                \(managed.configurationLines)
                storage:
                  url: s3://\(bucket)/\(prefix)
                  endpoint: \(server.endpoint)
                  part_size_mb: 5
                restore:
                  enabled: true
                \(restoreYAML.map { "  " + $0 }.joined(separator: "\n"))
                server:
                  listen: 127.0.0.1:\(ports[index])
                  token: \(TestDaemon.token)
                ring:
                  peers: [\(peers.joined(separator: ", "))]
                \(moreYAML)
                """
            let environment = [
                "AWS_ACCESS_KEY_ID": server.accessKey, "AWS_SECRET_ACCESS_KEY": server.secretKey,
                "AWS_EC2_METADATA_DISABLED": "true",
            ]
            let configuration = try DynokeeperConfiguration.parse(
                yaml: yaml, path: "node\(index).yml", environment: environment)
            let daemon = try DynokeeperDaemon(
                configuration: configuration, path: nil, environment: environment,
                clock: clock, logger: Logger(label: "ring-\(cluster)-\(index)"))
            let task = Task { try await daemon.run(handleSignals: false) }
            _ = await daemon.port()
            nodes.append(Node(redis: managed, daemon: daemon, task: task, port: ports[index], place: place))
        }
        return RingFixture(
            nodes: nodes, cluster: cluster, bucket: bucket, prefix: prefix,
            client: HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup))
    }

    func call(_ node: Int, _ method: HTTPMethod, _ path: String, body: String? = nil) async throws -> [String: Any] {
        var request = HTTPClientRequest(url: nodes[node].url + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(TestDaemon.token)")
        if method != .GET { request.headers.add(name: "Content-Type", value: "application/json") }
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        let reply = try await TestDaemon.send(request, path: path, client: client, timeout: .seconds(60))
        var json = reply.json
        json["_status"] = reply.status
        return json
    }

    /// Starts a ring job on the first node and waits for it (bounded).
    func ringJob(_ path: String, body: String) async throws -> [String: Any] {
        let accepted = try await call(0, .POST, path, body: body)
        guard accepted["_status"] as? Int == 202, let id = accepted["id"] as? String else {
            throw TestSupportError("\(path) was not accepted: \(accepted)")
        }
        let deadline = ContinuousClock.now + .seconds(180)
        while true {
            let job = try await call(0, .GET, "/v1/ring/jobs/\(id)")
            if job["state"] as? String != "running" { return job }
            guard ContinuousClock.now < deadline else { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestSupportError("ring job \(id) did not finish")
    }

    /// Gives every node data of its own, tagged with the ring and its tokens.
    func populate(_ tag: String) async throws {
        for node in nodes {
            try await RedisDataset.populateAllTypes(node.redis, tag: "\(tag)-\(node.place.tokens)")
        }
    }

    func contents() async throws -> [RedisContent] {
        var result: [RedisContent] = []
        for node in nodes { result.append(try await RedisContent.read(port: node.redis.port)) }
        return result
    }

    /// The keys of the store under this ring's prefix, with awscli (an independent client).
    func storedKeys() async throws -> [String] {
        let listing = try await SeaweedFS.shared().awsCheck(["s3", "ls", "--recursive", "s3://\(bucket)/\(prefix)/"])
        return listing.stdoutText.split(separator: "\n").compactMap { $0.split(separator: " ").last.map(String.init) }
    }

    /// Stops the daemons; `keepRedis` leaves the Redis servers for another ring.
    fileprivate func stop(keepRedis: Bool = false) async {
        for node in nodes {
            await node.daemon.shutdown()
            _ = try? await node.task.value
            if !keepRedis { await node.redis.stopAndRemove() }
        }
        try? await client.shutdown()
    }
}

/// Runs `body` with a ``RingFixture`` started with these arguments (see
/// ``RingFixture/start(cluster:places:redis:prefix:bucket:clock:restoreYAML:)``), and stops it afterwards, also when `body`
/// throws.
func withRingFixture<Result>(
    cluster: String, places: [(String, String, String)], redis: [ManagedRedis]? = nil, prefix: String? = nil,
    bucket: String? = nil, clock: any SchedulerClock = SystemSchedulerClock(), restoreYAML: [String] = [],
    moreYAML: String = "", _ body: (RingFixture) async throws -> Result
) async throws -> Result {
    let ring = try await RingFixture.start(
        cluster: cluster, places: places, redis: redis, prefix: prefix, bucket: bucket, clock: clock,
        restoreYAML: restoreYAML, moreYAML: moreYAML)
    return try await withScoped(ring, stop: { await $0.stop() }, body)
}
