package import DynokeeperConfiguration
import Foundation
package import Logging
package import NodeControl
import RedisClient

/// Stops and starts the node's Redis, and waits for it to be gone or to have loaded its data.
///
/// Both waits check which Redis answers (its `run_id`), so that a supervisor that brings Redis back on its own
/// (systemd's `Restart=always`, a container runtime, a watchdog script) is found out instead of racing the
/// restore.
package struct RedisService: Sendable {
    let connector: RedisConnector
    let startCommand: ShellCommand?
    let stopCommand: ShellCommand?
    let logger: Logger
    var commandTimeout: Duration = .seconds(300)
    var stopTimeout: Duration = .seconds(120)
    var loadTimeout: Duration = .seconds(3600)
    var startTimeout: Duration = .seconds(120)
    /// How long Redis must stay down after it stopped, to tell a stop from a supervisor's restart.
    var settleTime: Duration = .milliseconds(500)
    /// How long a Redis that answered may stop answering while it loads before the start counts as failed.
    var vanishTime: Duration = .seconds(15)

    /// - Parameters:
    ///   - connector: Reaches the node's Redis.
    ///   - startCommand: `redis.start`.
    ///   - stopCommand: `redis.stop` (`SHUTDOWN NOSAVE` when `nil`).
    ///   - logger: Where load progress is reported.
    package init(connector: RedisConnector, startCommand: ShellCommand?, stopCommand: ShellCommand?, logger: Logger) {
        self.connector = connector
        self.startCommand = startCommand
        self.stopCommand = stopCommand
        self.logger = logger
    }

    /// The node's Redis as the configuration describes it (`redis.start`, `redis.stop`).
    package static func make(
        _ configuration: DynokeeperConfiguration, connector: RedisConnector, logger: Logger
    ) -> RedisService {
        let passing = configuration.node.commandEnvironment
        return RedisService(
            connector: connector,
            startCommand: configuration.redis.start.map { ShellCommand($0, key: "redis.start", passing: passing) },
            stopCommand: configuration.redis.stop.map { ShellCommand($0, key: "redis.stop", passing: passing) },
            logger: logger)
    }

    /// Whether a Redis listens (loading, or refusing our password, counts as running).
    package enum Presence: Sendable, Equatable {
        case down
        /// Running; its `run_id` when it answered `INFO`.
        case up(runID: String?)
    }

    package func presence() async -> Presence {
        do {
            return try await connector.withConnection(commandTimeout: .seconds(5)) { redis in
                .up(runID: (try? await redis.info("server"))?["run_id"])
            }
        } catch RedisError.connectionFailed {
            return .down
        } catch is RedisError {
            // It answered, if not to us (a wrong password, loading, a timeout): it runs.
            return .up(runID: nil)
        } catch {
            // Nothing was asked of Redis (its password file cannot be read): whether it listens says.
            let address = connector.address
            return await PortProbe.isOpen(host: address.host, port: address.port) ? .up(runID: nil) : .down
        }
    }

    /// Whether Redis runs.
    package func isUp() async -> Bool { await presence() != .down }

    /// The `run_id` of the Redis answering now, `nil` when none answers.
    package func runID() async -> String? {
        guard case .up(let runID) = await presence() else { return nil }
        return runID
    }

    /// Stops Redis (`SHUTDOWN NOSAVE`, or `redis.stop`) and waits until it is gone and stays gone.
    /// - Throws: ``NodeControlError`` when Redis does not stop, or comes back (as another process) by itself.
    package func stop() async throws {
        let stopped = await runID()
        if let stopCommand {
            try await stopCommand.run(timeout: commandTimeout)
        } else if let redis = try await connectIfUp(timeout: .seconds(60), when: "so SHUTDOWN NOSAVE cannot be sent") {
            try await redis.closing { try await $0.shutdown(save: false) }
        }
        let deadline = ContinuousClock.now + stopTimeout
        var downSince: ContinuousClock.Instant?
        var wentDown = false
        while ContinuousClock.now < deadline {
            if case .up(let current) = await presence() {
                // Another process than the one stopped (a supervisor's restart may be quicker than this poll), or
                // any Redis after this one was seen gone.
                if wentDown || (current != nil && stopped != nil && current != stopped) {
                    throw NodeControlError(
                        Self.supervisorMessage(connector.address, stopped: stopped, current: current ?? "unknown"))
                }
                downSince = nil
            } else if let since = downSince {
                if ContinuousClock.now - since >= settleTime { return }
            } else {
                downSince = ContinuousClock.now
                wentDown = true
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw NodeControlError(
            "Redis at \(connector.address) still answers \(stopTimeout) after \(stopCommand.map { "\($0)" } ?? "SHUTDOWN NOSAVE")"
        )
    }

    /// Fails unless Redis is down: checked right before files are moved, so that a Redis brought back by a
    /// supervisor is never left running on files being replaced.
    package func ensureDown(before step: String) async throws {
        guard case .up(let current) = await presence() else { return }
        throw NodeControlError(
            "Redis at \(connector.address) is running again (run_id \(current ?? "unknown")) although dynokeeper stopped it; refusing to \(step). \(Self.supervisorAdvice)"
        )
    }

    /// A connection to Redis, or `nil` when it does not answer (down, or not up yet).
    /// - Throws: When Redis refuses the configured user and password, which waiting does not change (an ACL user made
    ///   at runtime does not outlive a restart): said at once rather than after a stop's or a start's time-out.
    private func connectIfUp(timeout: Duration, when: String) async throws -> RedisConnection? {
        do {
            return try await connector.connect(commandTimeout: timeout)
        } catch let error as RedisError where error.isAuthenticationFailure {
            throw NodeControlError(
                "Redis at \(connector.address) refuses dynokeeper's credentials (\(error)) \(when): an ACL user made with ACL SETUSER alone is gone after a restart; define it in redis.conf or Redis's ACL file"
            )
        } catch {
            return nil
        }
    }

    static let supervisorAdvice =
        "Something restarts Redis when it stops (systemd Restart=, a container runtime, a watchdog script): set redis.stop and redis.start to the commands that stop and start it through that supervisor (such as systemctl stop redis-server)."

    static func supervisorMessage(_ address: RedisAddress, stopped: String?, current: String) -> String {
        "Redis at \(address) came back as another process (run_id \(current), was \(stopped ?? "none")) right after it was stopped. \(supervisorAdvice)"
    }

    /// Starts Redis and waits until a new Redis (not one of `stoppedRunIDs`) answers with its data loaded,
    /// reporting load progress.
    package func start(excluding stoppedRunIDs: [String] = []) async throws {
        guard let startCommand else {
            throw ConfigurationError("redis.start is not set: dynokeeper cannot start Redis again")
        }
        try await startCommand.run(timeout: commandTimeout)
        let deadline = ContinuousClock.now + loadTimeout
        // Redis answers (loading) within moments of starting; one that does not answer at all failed to start.
        let answerDeadline = ContinuousClock.now + startTimeout
        var lastReport = ContinuousClock.now
        // The Redis that answered first, and when one last answered: a Redis that dies while loading (and may be
        // started again by a supervisor, as another process) fails the start instead of being waited for.
        var loadingRunID: String?
        var lastAnswer: ContinuousClock.Instant?
        while ContinuousClock.now < deadline {
            if let lastAnswer, ContinuousClock.now - lastAnswer > vanishTime {
                throw NodeControlError(
                    "Redis at \(connector.address) answered, then went away while loading its data after \(startCommand); its log says why"
                )
            }
            guard ContinuousClock.now < answerDeadline || lastAnswer != nil else {
                throw NodeControlError(
                    "Redis at \(connector.address) did not answer within \(startTimeout) after \(startCommand); its log says why"
                )
            }
            if let redis = try await connectIfUp(timeout: .seconds(10), when: "after \(startCommand)") {
                // Polls on this connection while it answers (`false` once it fails: connect again).
                let loaded = try await redis.closing { redis in
                    while ContinuousClock.now < deadline {
                        guard let info = try? await redis.info() else { return false }
                        lastAnswer = ContinuousClock.now
                        if let runID = info["run_id"] {
                            if stoppedRunIDs.contains(runID) {
                                throw NodeControlError(
                                    "the Redis answering at \(connector.address) after \(startCommand) is the one dynokeeper stopped (run_id \(runID)): it never stopped, or redis.start did not start a new one"
                                )
                            }
                            if let first = loadingRunID, first != runID, info.int("loading") != 0 {
                                throw NodeControlError(
                                    "Redis at \(connector.address) exited while loading its data and was started again (run_id \(first), then \(runID)): it cannot load what was put in place; its log says why"
                                )
                            }
                            loadingRunID = loadingRunID ?? runID
                        }
                        if info.int("loading") == 0 { return true }
                        if ContinuousClock.now - lastReport > .seconds(2) {
                            logger.info("Redis is loading its data: \(info["loading_loaded_perc"] ?? "?")%")
                            lastReport = ContinuousClock.now
                        }
                        try await Task.sleep(for: .milliseconds(50))
                    }
                    return false
                }
                if loaded { return }
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw NodeControlError(
            "Redis at \(connector.address) did not answer with its data loaded within \(loadTimeout) after \(startCommand)"
        )
    }
}

/// Stops and starts Dynomite with the configured commands, waiting on its client port.
package struct DynomiteService: Sendable {
    let startCommand: ShellCommand
    let stopCommand: ShellCommand
    let host: String
    let port: Int
    var commandTimeout: Duration = .seconds(300)
    var waitTimeout: Duration = .seconds(120)

    /// Builds it from the configuration and dynomite.yml; `nil` for a plain Redis node.
    /// - Throws: When the node runs Dynomite but the commands to stop and start it are missing.
    package static func make(_ configuration: DynokeeperConfiguration, node: NodeSettings) throws -> DynomiteService? {
        let settings = configuration.dynomite
        guard settings.start != nil || settings.stop != nil || node.dynomite != nil else { return nil }
        guard let start = settings.start, let stop = settings.stop else {
            throw ConfigurationError(
                "this node runs Dynomite (node.dynomite_yaml or dynomite.* is set): set both dynomite.stop and dynomite.start so that a restore can stop it and start it again"
            )
        }
        let listen = node.dynomite?.listen.flatMap(Self.hostAndPort)
        guard let port = settings.port ?? listen?.port else {
            throw ConfigurationError(
                "set dynomite.port (or listen: in dynomite.yml) so that dynokeeper can tell when Dynomite is up")
        }
        let passing = configuration.node.commandEnvironment
        return DynomiteService(
            startCommand: ShellCommand(start, key: "dynomite.start", passing: passing),
            stopCommand: ShellCommand(stop, key: "dynomite.stop", passing: passing),
            host: settings.host ?? listen?.host ?? "127.0.0.1", port: port)
    }

    /// `0.0.0.0:8102` → (127.0.0.1, 8102).
    static func hostAndPort(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]) else { return nil }
        let host = String(text[..<colon])
        return (host == "0.0.0.0" || host.isEmpty ? "127.0.0.1" : host, port)
    }

    package func isUp() async -> Bool { await PortProbe.isOpen(host: host, port: port) }

    package func stop() async throws {
        try await stopCommand.run(timeout: commandTimeout)
        try await PortProbe.wait(
            host: host, port: port, open: false, timeout: waitTimeout, what: "waiting for Dynomite to stop")
    }

    package func start() async throws {
        try await startCommand.run(timeout: commandTimeout)
        try await PortProbe.wait(
            host: host, port: port, open: true, timeout: waitTimeout, what: "waiting for Dynomite to start")
    }
}
