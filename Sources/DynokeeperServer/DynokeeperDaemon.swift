package import DynokeeperConfiguration
package import DynokeeperEngine
package import DynokeeperRing
import Foundation
import Hummingbird
package import Logging
import NIOCore
import ObjectStorage
import ServiceLifecycle
import Synchronization
import UnixSignals

/// `dynokeeper serve`: the REST API, the backup schedule and the jobs, run as services that shut down
/// gracefully on SIGTERM or SIGINT; SIGHUP re-reads the configuration.
package final class DynokeeperDaemon: Sendable {
    package let node: NodeService
    package let ring: RingService
    let metrics: DynokeeperMetrics
    let clock: any SchedulerClock
    let logger: Logger
    let host: String
    let requestedPort: Int
    let token: String?
    /// `server.dynomite_manager_tokenless`.
    let dynomiteManagerTokenless: Bool
    /// The API's TLS; `nil` for plain HTTP.
    let tls: APITLS?
    /// The names requests may be addressed to (``ForgeryGuardMiddleware/allowedNames``).
    let allowedNames: Set<String>
    private let state = Mutex<(group: ServiceGroup?, port: Int?, portWaiters: [CheckedContinuation<Int, Never>])>(
        (nil, nil, []))

    /// Builds the daemon from its configuration.
    /// - Parameters:
    ///   - configuration: The loaded configuration.
    ///   - path: The file it came from, re-read on SIGHUP.
    ///   - environment: The environment overrides, applied again on reload.
    ///   - clock: The scheduler's clock.
    ///   - logger: Where everything is logged.
    /// - Throws: When the configuration cannot serve, such as a non-loopback address without a token.
    package init(
        configuration: DynokeeperConfiguration, path: String?, environment: [String: String],
        clock: any SchedulerClock = SystemSchedulerClock(), logger: Logger
    ) throws {
        let server = configuration.server
        guard server.token != nil || server.isLoopback else {
            throw ConfigurationError(
                "server.listen \(server.host):\(server.port) is reachable from other machines: set server.token or server.token_file (or listen on 127.0.0.1)"
            )
        }
        let settings = try NodeSettings.resolve(configuration)
        let store = try StoreFactory.makeStore(configuration.storage, environment: environment, logger: logger)
        let metrics = DynokeeperMetrics()
        let holder = ConfigurationHolder(configuration, path: path, environment: environment, logger: logger)
        // pitr.* is read at start-up: a change takes a restart.
        let archiver =
            configuration.pitr.enabled
            ? NodeComponents(configuration: configuration, node: settings, store: store, logger: logger).archiver()
            : nil
        node = NodeService(
            holder: holder, node: settings, store: store, runner: JobRunner(logger: logger, events: metrics),
            events: metrics, logger: logger, archiver: archiver)
        ring = RingService(
            holder: holder, node: settings, store: store, peers: try PeerClient.make(configuration), logger: logger,
            now: { clock.now() })
        self.metrics = metrics
        self.clock = clock
        self.logger = logger
        host = server.host
        requestedPort = server.port
        token = server.token
        dynomiteManagerTokenless = server.dynomiteManagerTokenless
        tls = try APITLS.make(server)
        allowedNames = Self.names(configuration, node: settings)
        if tls == nil && !server.isLoopback {
            logger.warning(
                "server.listen \(server.host):\(server.port) is reachable from other machines over plain HTTP: the bearer token crosses the network in clear. Set server.tls_cert_file and server.tls_key_file"
            )
        }
        if token == nil && dynomiteManagerTokenless {
            logger.warning(
                "server.dynomite_manager_tokenless: Dynomite-manager's admin GETs (backup, restore, start, stop) are served without a token; any web page opened on this host can call them. Set server.token_file and give the scripts the token"
            )
        }
    }

    /// Runs until a graceful shutdown (a signal, or ``shutdown()``) has finished.
    /// - Parameter handleSignals: Whether SIGTERM/SIGINT shut down and SIGHUP reloads (off in tests that run
    ///   several daemons in one process).
    package func run(handleSignals: Bool = true) async throws {
        // A restore killed before the daemon (re)started: say so at once (an untouched one is cleaned up).
        let nodeState = await node.nodeState()
        if let restore = nodeState.unfinishedRestore, !restore.running {
            logger.error("unfinished restore: \(restore.resolve)")
        }
        metrics.unfinishedRestore(nodeState.unfinishedRestore.map { !$0.running } ?? false)
        let application = Application(
            router: makeRouter(),
            server: try tls?.server() ?? .http1(),
            configuration: .init(address: .hostname(host, port: requestedPort), serverName: "dynokeeper"),
            onServerRunning: { [weak self] channel in
                guard let self, let port = channel.localAddress?.port else { return }
                self.logger.info(
                    "dynokeeper listening on \(self.tls == nil ? "http" : "https")://\(self.host):\(port)\(self.tls?.clientCAFile == nil ? "" : " (client certificates required)")"
                )
                let waiters = self.state.withLock { state in
                    state.port = port
                    defer { state.portWaiters = [] }
                    return state.portWaiters
                }
                for waiter in waiters { waiter.resume(returning: port) }
            },
            logger: logger)

        var services: [any Service] = [
            JobsService(runner: node.runner, ring: ring),
            BackupScheduler(node: node, ring: ring, metrics: metrics, clock: clock, logger: logger),
            VerificationScheduler(node: node, clock: clock, logger: logger),
            GarbageCollection(store: node.store, logger: logger),
            application,
        ]
        if let archiver = node.archiver { services.append(PointInTimeArchiving(archiver: archiver)) }
        if handleSignals { services.append(ReloadOnHangup(holder: node.holder, tls: tls, logger: logger)) }
        let group = ServiceGroup(
            configuration: .init(
                services: services.map { .init(service: $0) },
                gracefulShutdownSignals: handleSignals ? [.sigterm, .sigint] : [],
                logger: logger))
        state.withLock { $0.group = group }
        defer { state.withLock { $0.group = nil } }
        do {
            try await group.run()
        } catch {
            await ring.peers.shutdown()
            try? await node.store.shutdown()
            throw error
        }
        await ring.peers.shutdown()
        try? await node.store.shutdown()
        logger.info("dynokeeper stopped")
    }

    /// The REST API with its error and token middleware; tests call it through HummingbirdTesting without
    /// running the daemon.
    func makeRouter() -> Router<BasicRequestContext> {
        let router = Router(options: .caseInsensitive)
        router.add(middleware: JSONErrorMiddleware())
        router.add(
            middleware: ForgeryGuardMiddleware(
                hasToken: token != nil, scheme: tls == nil ? "http" : "https", allowedNames: allowedNames))
        if let token { router.add(middleware: BearerTokenMiddleware(token: token)) }
        APIRoutes(
            node: node, ring: ring, metrics: metrics, clock: clock, startedAt: Date(),
            dynomiteManagerActing: token != nil || dynomiteManagerTokenless
        ).register(on: router)
        return router
    }

    /// This node's names: the machine's (short and full), the listener's, the ring's peers' (a peer names this node as
    /// the others do) and `server.allowed_hosts`.
    static func names(_ configuration: DynokeeperConfiguration, node: NodeSettings) -> Set<String> {
        let machine = ProcessInfo.processInfo.hostName.lowercased()
        var names: Set<String> = [
            machine, String(machine.prefix { $0 != "." }), configuration.server.host.lowercased(),
        ]
        for peer in configuration.ring.peers {
            if let host = URLComponents(string: peer)?.host?.lowercased() { names.insert(host) }
        }
        for seed in node.dynomite?.seeds ?? [] { names.insert(seed.host.lowercased()) }
        names.formUnion(configuration.server.allowedHosts)
        return names
    }

    /// The port the API listens on, once it does.
    package func port() async -> Int {
        if let port = state.withLock({ $0.port }) { return port }
        return await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> Int? in
                if let port = state.port { return port }
                state.portWaiters.append(continuation)
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    /// Starts a graceful shutdown: no new jobs, a running backup aborted, a running restore waited for.
    package func shutdown() async {
        await state.withLock { $0.group }?.triggerGracefulShutdown()
    }
}

/// Stops the jobs last: services shut down in reverse order, so the API has stopped taking requests by then.
struct JobsService: Service {
    let runner: JobRunner
    let ring: RingService

    func run() async throws {
        try? await gracefulShutdown()
        await ring.shutdown()
        await runner.shutdown()
    }
}

/// Runs the point-in-time archiver until shutdown.
struct PointInTimeArchiving: Service {
    let archiver: StreamArchiver

    func run() async throws {
        await cancelWhenGracefulShutdown { await archiver.run() }
    }
}

/// Re-reads the configuration, and the API's certificate and key, on SIGHUP.
struct ReloadOnHangup: Service {
    let holder: ConfigurationHolder
    let tls: APITLS?
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            for await _ in await UnixSignalsSequence(trapping: .sighup) {
                await holder.reload()
                tls?.reload(logger: logger)
            }
        }
    }
}

/// Removes what interrupted backups left in the store (see `dynokeeper gc`), once a day, the first time an hour
/// after start-up.
struct GarbageCollection: Service {
    let store: any ObjectStore
    let logger: Logger
    var firstRun: Duration = .seconds(3600)
    var period: Duration = .seconds(86_400)
    var olderThan: Duration = .seconds(86_400)

    func run() async throws {
        await cancelWhenGracefulShutdown {
            var wait = firstRun
            while !Task.isCancelled {
                do { try await Task.sleep(for: wait) } catch { return }
                wait = period
                do {
                    let report = try await StoreGarbageCollector(store: store, logger: logger).run(
                        olderThan: olderThan, dryRun: false)
                    if !report.isEmpty {
                        logger.notice(
                            "store clean-up: \(report.uploads.count) incomplete upload(s) aborted, \(report.folders.count) incomplete snapshot(s) removed"
                        )
                    }
                } catch {
                    logger.warning("store clean-up failed: \(error)")
                }
            }
        }
    }
}
