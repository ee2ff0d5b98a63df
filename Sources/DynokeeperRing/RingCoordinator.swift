package import DynokeeperConfiguration
package import DynokeeperEngine
package import Foundation
package import Logging
package import ObjectStorage

/// Runs backups and restores of a whole ring from one node: it finds the ring's dynokeepers, asks each to
/// back up under one snapshot id (or to restore its counterpart's snapshot), follows their jobs and reports per
/// node. A ring backup's manifest is written only when every node succeeded.
package struct RingCoordinator: Sendable {
    /// A dynokeeper of the ring.
    package struct Member: Sendable {
        package var url: String
        package var node: NodeIdentity
        /// The peer daemon's run (``NodeStatus/instance``); `nil` from an older release.
        package var instance: String? = nil
        var place: RingMapping.Place { .init(datacenter: node.datacenter, rack: node.rack, tokens: node.tokens) }
    }

    package typealias NodeOutcome = RingReport.NodeOutcome

    package let configuration: DynokeeperConfiguration
    package let node: NodeSettings
    package let store: any ObjectStore
    package let peers: PeerClient
    package let logger: Logger
    let now: @Sendable () -> Date
    var pollInterval: Duration
    var jobTimeout: Duration

    package init(
        configuration: DynokeeperConfiguration, node: NodeSettings, store: any ObjectStore, peers: PeerClient,
        logger: Logger,
        now: @escaping @Sendable () -> Date = Date.init, pollInterval: Duration = .milliseconds(250),
        jobTimeout: Duration = .seconds(6 * 3600)
    ) {
        self.configuration = configuration
        self.node = node
        self.store = store
        self.peers = peers
        self.logger = logger
        self.now = now
        self.pollInterval = pollInterval
        self.jobTimeout = jobTimeout
    }

    /// The base URLs of the ring's dynokeepers: `ring.peers`, else the hosts of dynomite.yml's `dyn_seeds` and
    /// this node, on `ring.peer_port`.
    package func peerURLs() throws -> [String] {
        let urls = try configuredPeerURLs()
        if let problem = urls.lazy.compactMap(configuration.ring.plaintextProblem).first {
            throw DynokeeperError(.invalidConfiguration, problem)
        }
        return urls
    }

    /// `ring.peers`, else the `dyn_seeds` hosts on `ring.peer_port` (`https://` when this node serves TLS: the ring's
    /// nodes are configured alike).
    private func configuredPeerURLs() throws -> [String] {
        if !configuration.ring.peers.isEmpty { return configuration.ring.peers }
        guard let port = configuration.ring.peerPort else {
            throw DynokeeperError(
                .invalidConfiguration,
                "ring operations need ring.peers (the dynokeepers' URLs) or ring.peer_port (their port on the dyn_seeds hosts)"
            )
        }
        let hosts = ["127.0.0.1"] + (node.dynomite?.seeds.map(\.host) ?? [])
        var seen = Set<String>()
        let scheme = configuration.server.tlsCertFile == nil ? "http" : "https"
        return hosts.filter { seen.insert($0).inserted }.map {
            "\(scheme)://\($0.contains(":") ? "[\($0)]" : $0):\(port)"
        }
    }

    /// Fails unless the configuration says where the ring's dynokeepers are, so that a ring job is refused at once.
    package func checkPeers() throws(DynokeeperError) {
        do { _ = try peerURLs() } catch { throw DynokeeperError(error) }
    }

    /// Asks every peer who it is. Peers of another cluster are an error; the same node listed twice (by two
    /// URLs) counts once.
    /// Peers that speak another contract (another release) are left out with those that do not answer: they would
    /// read our requests (or we their jobs) differently, so nothing is asked of them; a ring backup then backs up
    /// the others (and writes no ring manifest), a ring restore starts nowhere.
    package func members() async throws -> (members: [Member], unreachable: [NodeOutcome]) {
        let urls = try peerURLs()
        let probes = await withTaskGroup(of: PeerProbe.self) { group in
            for url in urls {
                let peers = peers
                group.addTask { await PeerProbe.probe(url, with: peers) }
            }
            var probes: [PeerProbe] = []
            for await probe in group { probes.append(probe) }
            return probes
        }
        var members: [Member] = []
        var unreachable: [NodeOutcome] = []
        for probe in probes {
            switch probe.answer {
            case .node(let identity) where identity.contract != NodeStatus.currentContract:
                unreachable.append(
                    NodeOutcome(
                        url: probe.url, node: identity.node.description, state: .failed,
                        error:
                            "it speaks API contract \(identity.contract ?? 1) (dynokeeper \(identity.version ?? "of an older release")), this node contract \(NodeStatus.currentContract) (dynokeeper \(DynokeeperVersion.current)): ring operations need every node on the same dynokeeper release; install one release on every node, then run the ring operation again. Nothing was asked of it"
                    ))
            case .node(let identity):
                members.append(Member(url: probe.url, node: identity.node, instance: identity.instance))
            case .failure(let error): unreachable.append(NodeOutcome(url: probe.url, state: .unreachable, error: error))
            }
        }
        for member in members where member.node.cluster != configuration.cluster {
            throw DynokeeperError(
                .peer,
                "peer \(member.url) belongs to cluster \(member.node.cluster), not \(configuration.cluster): check ring.peers"
            )
        }
        // One node under two URLs answers with one instance: counted once. Two instances that claim one node are
        // two dynokeepers configured with the same identity: one of them would never be backed up or restored.
        for (node, claims) in Dictionary(grouping: members, by: { $0.node.description }) {
            let instances = Set(claims.compactMap(\.instance))
            guard instances.count > 1 else { continue }
            throw DynokeeperError(
                .peer,
                "\(claims.map(\.url).sorted().joined(separator: " and ")) both claim node \(node) of \(configuration.cluster) but are different dynokeepers: check node.datacenter, node.rack, node.tokens (or dynomite.yml) on them; nothing was asked of any node"
            )
        }
        var seen = Set<String>()
        members = members.sorted { $0.url < $1.url }.filter { seen.insert($0.node.description).inserted }
        return (members.sorted { Self.order($0.place, $1.place) }, unreachable.sorted { $0.url < $1.url })
    }

    /// Ring order: datacenter, rack, then the first token as a number.
    static func order(_ a: RingMapping.Place, _ b: RingMapping.Place) -> Bool {
        if a.datacenter != b.datacenter { return a.datacenter < b.datacenter }
        if a.rack != b.rack { return a.rack < b.rack }
        let first = { (tokens: String) in UInt64(tokens.split(separator: ",").first ?? "") ?? .max }
        return first(a.tokens) < first(b.tokens)
    }

    /// The node that takes scheduled ring backups: the lowest token of the first rack among the members that
    /// answer.
    package func leader() async throws -> Member? {
        try await members().members.first
    }

    // MARK: Backup

    package func backup(_ request: RingBackupRequest) async throws -> RingReport {
        let (members, unreachable) = try await members()
        guard !members.isEmpty else {
            throw DynokeeperError(
                .peer,
                "no dynokeeper of the ring can take part: \(unreachable.map { "\($0.url): \($0.error ?? $0.state.rawValue)" }.joined(separator: "; "))"
            )
        }
        let startedAt = try await freshStart()
        let id = SnapshotID(date: startedAt)
        let persistence = request.type ?? configuration.backup.type
        logger.info("ring backup \(id) of \(configuration.cluster): \(members.count) node(s)")
        let body = BackupRequest(type: persistence, snapshotID: id)
        var outcomes = await run(members) { member in
            (try await peers.startBackup(member.url, body), nil)
        }
        // A node whose snapshot is complete in the store took part, whatever its job says: its answer was lost, or a
        // POST retried after a time-out found the id taken by the backup it had started.
        let catalog = SnapshotCatalog(store: store, logger: logger)
        for index in outcomes.indices where outcomes[index].state != .succeeded {
            guard let member = members.first(where: { $0.url == outcomes[index].url }),
                let stored = try? await catalog.snapshot(id, of: member.node)
            else { continue }
            logger.notice(
                "ring backup \(id): \(member.url) reported \(outcomes[index].error ?? "a failure"), but its snapshot is complete in the store"
            )
            outcomes[index].state = .succeeded
            outcomes[index].error = nil
            outcomes[index].result = JobResult(
                snapshot: id.text, size: stored.manifest.size, storedSize: stored.manifest.storedSize,
                keys: stored.manifest.keyCount)
        }
        var nodes = outcomes + unreachable
        let succeeded =
            unreachable.isEmpty && outcomes.allSatisfy { $0.state == .succeeded }
            && outcomes.allSatisfy { $0.result?.snapshot == id.text }
        var manifestKey: String?
        if succeeded {
            let manifest = RingManifest(
                snapshotID: id, cluster: configuration.cluster, type: persistence,
                // Each member with its own outcome (the outcomes come in the order of their URLs).
                nodes: members.compactMap { member in
                    guard let outcome = outcomes.first(where: { $0.url == member.url }) else { return nil }
                    return RingManifest.Node(
                        datacenter: member.node.datacenter, rack: member.node.rack, tokens: member.node.tokens,
                        prefix: SnapshotLayout.snapshotPrefix(member.node, id), url: member.url,
                        size: outcome.result?.size, storedSize: outcome.result?.storedSize, keys: outcome.result?.keys)
                }, startedAt: startedAt, finishedAt: now())
            let key = RingManifest.key(cluster: configuration.cluster, id: id)
            try await store.put(
                key, bytes: .init(bytes: try SnapshotManifest.encoder.encode(manifest)),
                options: PutOptions(contentType: "application/json"))
            manifestKey = key
            logger.info("ring snapshot \(id) complete: \(key)")
        } else {
            nodes.sort { $0.url < $1.url }
            logger.error("ring backup \(id) incomplete: no ring manifest written; the nodes' own snapshots stay usable")
        }
        return RingReport(
            kind: .backup, cluster: configuration.cluster, snapshotID: id.text, succeeded: succeeded,
            ringManifest: manifestKey,
            dryRun: false, nodes: nodes,
            error: succeeded
                ? nil
                : "ring backup incomplete: \(nodes.filter { $0.state != .succeeded }.map { "\($0.node ?? $0.url): \($0.error ?? $0.state.rawValue)" }.joined(separator: "; "))"
        )
    }

    /// When the backup starts. Snapshot ids are to the second: a ring backup in the second of the previous complete
    /// one (a quick ring, or two requests in a row) or just before it (a clock that does not move, as in tests)
    /// takes the second after it, rather than an id whose node snapshots exist already. Best effort: a store that
    /// cannot list leaves the id to the clock, and the nodes refuse an id they have.
    private func freshStart() async throws -> Date {
        let startedAt = now()
        let newest: SnapshotID?
        do {
            newest = try await RingCatalog(store: store, logger: logger).ids(cluster: configuration.cluster).first
        } catch {
            logger.warning("cannot list the ring snapshots to choose a fresh id: \(error)")
            return startedAt
        }
        // A newest id more than a minute ahead is a clock problem, not a backup of this second: not waited for.
        guard let newest, newest >= SnapshotID(date: startedAt), newest.date.timeIntervalSince(startedAt) < 60 else {
            return startedAt
        }
        let next = newest.date.addingTimeInterval(1)
        try await Task.sleep(for: .seconds(max(0, next.timeIntervalSince(startedAt))))
        return max(now(), next)
    }

    // MARK: Restore

    package func restore(_ request: RingRestoreRequest) async throws -> RingReport {
        try NodeRestore.checkEnabled(configuration, ring: true)
        let sourceCluster = request.sourceCluster(configuration)
        // A point-in-time restore takes the ring's members from the newest ring snapshot at or before the moment,
        // else (no ring backup was ever taken) the members as they are; each node then picks its own base and replays
        // its own archive up to that moment.
        let toTime =
            request.toTime ?? (request.date == nil && request.snapshot == nil ? configuration.restore.toTime : nil)
        let catalog = RingCatalog(store: store, logger: logger)
        let ring: RingManifest?
        if toTime != nil && request.snapshot == nil {
            // None at or before the moment (ring backups began later, or were pruned): the members as they are.
            let ids = try await catalog.ids(cluster: sourceCluster)
            ring =
                ids.contains { $0.date <= toTime! }
                ? try await catalog.choose(cluster: sourceCluster, date: toTime, id: nil, now: now()) : nil
        } else {
            ring = try await catalog.choose(
                cluster: sourceCluster, date: toTime ?? request.date ?? configuration.restore.date,
                id: request.snapshot, now: now())
        }
        let (members, unreachable) = try await members()
        guard unreachable.isEmpty else {
            throw DynokeeperError(
                .peer,
                "every node must answer, on this dynokeeper release, before a ring restore: \(unreachable.map { "\($0.url): \($0.error ?? $0.state.rawValue)" }.joined(separator: "; ")). Nothing was stopped"
            )
        }
        let sources =
            ring?.nodes.map { RingMapping.Place(datacenter: $0.datacenter, rack: $0.rack, tokens: $0.tokens) }
            ?? members.map(\.place)
        let mapping = try RingMapping.map(targets: members.map(\.place), sources: sources, explicit: request.mapping)
        // The nodes get the ring snapshot by its id: a node that encrypts would take a snapshot in clear. Chosen as
        // the newest (or by date) rather than named, a ring snapshot in clear may have been planted in the bucket.
        if configuration.encryption.keyFile != nil, request.snapshot == nil, toTime == nil, let ring {
            let catalog = SnapshotCatalog(store: store, logger: logger)
            for node in ring.nodes {
                let identity = NodeIdentity(
                    cluster: sourceCluster, datacenter: node.datacenter, rack: node.rack, tokens: node.tokens)
                let entry = try await catalog.snapshot(ring.snapshotID, of: identity)
                guard entry.manifest.encryption != nil else {
                    throw DynokeeperError(
                        .snapshot,
                        "ring snapshot \(ring.snapshotID) holds \(identity)'s snapshot stored in clear, and this ring encrypts its snapshots: restore it by its id (--snapshot \(ring.snapshotID)) if you trust it; nothing was touched"
                    )
                }
            }
        }
        let what =
            toTime.map { "the moment \(PointInTimeArchive.format($0))" }
            ?? "ring snapshot \(ring?.snapshotID.text ?? "?")"
        logger.info(
            "ring restore of \(sourceCluster) \(what) into \(configuration.cluster): \(members.count) node(s)\(request.rackByRack ? ", one rack at a time" : "")"
        )

        let groups: [[Member]]
        if request.rackByRack {
            groups = Dictionary(grouping: members) { "\($0.node.datacenter)/\($0.node.rack)" }.sorted {
                $0.key < $1.key
            }.map(\.value)
        } else {
            groups = [members]
        }
        @Sendable func body(_ member: Member, dryRun: Bool) -> RestoreRequest {
            let source = mapping[member.place]!
            var body = RestoreRequest(
                snapshot: toTime == nil ? ring?.snapshotID : nil, sourceCluster: sourceCluster,
                sourceDatacenter: source.datacenter, sourceRack: source.rack, dryRun: dryRun)
            body.toTime = toTime
            return body
        }
        if toTime != nil && !request.dryRun {
            // Every node must reach the moment (its archive and a base) before any is stopped: a ring left at two
            // moments is worse than one not restored.
            let checks = await run(members) { member in
                (try await peers.startRestore(member.url, body(member, dryRun: true)), nil)
            }
            let refused = checks.filter { $0.state != .succeeded }
            if !refused.isEmpty {
                var report = RingReport(
                    kind: .restore, cluster: configuration.cluster, snapshotID: ring?.snapshotID.text,
                    succeeded: false, ringManifest: nil, dryRun: false, nodes: checks,
                    error:
                        "ring restore refused before anything was stopped: \(refused.map { "\($0.node ?? $0.url): \($0.error ?? $0.state.rawValue)" }.joined(separator: "; "))"
                )
                report.toTime = toTime
                return report
            }
        }
        var outcomes: [NodeOutcome] = []
        for group in groups {
            let results = await run(group) { member in
                let source = mapping[member.place]!
                return (
                    try await peers.startRestore(member.url, body(member, dryRun: request.dryRun)),
                    "\(sourceCluster)/\(source)"
                )
            }
            outcomes += results
            // One rack at a time: stop at the first rack that fails, the others keep their data and serve.
            if request.rackByRack && results.contains(where: { $0.state != .succeeded }) { break }
        }
        let succeeded = outcomes.count == members.count && outcomes.allSatisfy { $0.state == .succeeded }
        var report = RingReport(
            kind: .restore, cluster: configuration.cluster, snapshotID: ring?.snapshotID.text, succeeded: succeeded,
            ringManifest: ring.map { RingManifest.key(cluster: sourceCluster, id: $0.snapshotID) },
            dryRun: request.dryRun,
            nodes: outcomes,
            error: succeeded
                ? nil
                : "ring restore failed on: \(outcomes.filter { $0.state != .succeeded }.map { "\($0.node ?? $0.url): \($0.error ?? $0.state.rawValue)" }.joined(separator: "; ")) (each failed node rolled back to its previous data)"
        )
        report.toTime = toTime
        return report
    }

    // MARK: Jobs on the peers

    /// Starts a job on every member at once and follows each to its end.
    private func run(
        _ members: [Member], start: @escaping @Sendable (Member) async throws -> (job: String, source: String?)
    ) async -> [NodeOutcome] {
        let peers = peers, pollInterval = pollInterval, jobTimeout = jobTimeout
        return await withTaskGroup(of: NodeOutcome.self) { group in
            for member in members {
                group.addTask {
                    var outcome = NodeOutcome(url: member.url, node: member.node.description, state: .failed)
                    do {
                        let (id, source) = try await start(member)
                        outcome.job = id
                        outcome.source = source
                        let job = try await peers.waitForJob(
                            member.url, id: id, timeout: jobTimeout, pollInterval: pollInterval)
                        outcome.state = job.state == .succeeded ? .succeeded : .failed
                        outcome.error = job.error
                        outcome.result = job.result
                        outcome.seconds = job.seconds
                    } catch {
                        outcome.error = "\(error)"
                    }
                    return outcome
                }
            }
            var outcomes: [NodeOutcome] = []
            for await outcome in group { outcomes.append(outcome) }
            return outcomes.sorted { $0.url < $1.url }
        }
    }

}

/// What one peer answered when asked who it is.
///
/// Built in a function of its own, after the call returns: Swift 6.3's optimizer miscompiles a child-task closure
/// that returns a tuple holding a captured value and `try await …` inside `do/catch` (it stores the captured value
/// into the task's result before the suspension, and the result comes back empty, as garbage or as a crash in
/// `completeTaskWithClosure`). That is what crashed `ring backup` in release builds; see the release-binary tests.
struct PeerProbe: Sendable {
    enum Answer: Sendable {
        case node(NodeStatus.Identity)
        case failure(String)
    }

    var url: String
    var answer: Answer

    static func probe(_ url: String, with peers: PeerClient) async -> PeerProbe {
        let answer: Answer
        do {
            answer = .node(try await peers.status(url))
        } catch {
            answer = .failure("\(error)")
        }
        return PeerProbe(url: url, answer: answer)
    }
}
