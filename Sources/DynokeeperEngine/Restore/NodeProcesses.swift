public import DynokeeperConfiguration
import Foundation
public import Logging
public import NodeControl
import RedisClient

/// Stops and starts the node's Redis, and waits for it to be gone or to have loaded its data.
public struct RedisService: Sendable {
    let connector: RedisConnector
    let startCommand: ShellCommand?
    let stopCommand: ShellCommand?
    let logger: Logger
    var commandTimeout: Duration = .seconds(300)
    var stopTimeout: Duration = .seconds(120)
    var loadTimeout: Duration = .seconds(3600)
    var startTimeout: Duration = .seconds(120)

    /// - Parameters:
    ///   - connector: Reaches the node's Redis.
    ///   - startCommand: `redis.start`.
    ///   - stopCommand: `redis.stop` (`SHUTDOWN NOSAVE` when `nil`).
    ///   - logger: Where load progress is reported.
    public init(connector: RedisConnector, startCommand: ShellCommand?, stopCommand: ShellCommand?, logger: Logger) {
        self.connector = connector
        self.startCommand = startCommand
        self.stopCommand = stopCommand
        self.logger = logger
    }

    /// Whether Redis answers (loading counts as answering).
    public func isUp() async -> Bool {
        guard let redis = try? await connector.connect(commandTimeout: .seconds(5)) else { return false }
        defer { Task { await redis.close() } }
        return (try? await redis.info("persistence")) != nil
    }

    /// Stops Redis without letting it write its data files, and waits until it is gone.
    public func stop() async throws {
        if let stopCommand {
            try await stopCommand.run(timeout: commandTimeout)
        } else if let redis = try? await connector.connect(commandTimeout: .seconds(60)) {
            try await redis.shutdown(save: false)
            await redis.close()
        }
        try await PortProbe.wait(
            host: connector.address.host, port: connector.address.port, open: false, timeout: stopTimeout,
            what: "waiting for Redis to stop")
    }

    /// Starts Redis and waits until it answers with its data loaded, reporting load progress.
    public func start() async throws {
        guard let startCommand else {
            throw ConfigurationError("redis.start is not set: dynokeeper cannot start Redis again")
        }
        try await startCommand.run(timeout: commandTimeout)
        let deadline = ContinuousClock.now + loadTimeout
        // Redis answers (loading) within moments of starting; one that does not answer at all failed to start.
        let answerDeadline = ContinuousClock.now + startTimeout
        var lastReport = ContinuousClock.now
        var answered = false
        while ContinuousClock.now < deadline {
            guard ContinuousClock.now < answerDeadline || answered else {
                throw NodeControlError("Redis at \(connector.address) did not answer within \(startTimeout) after \(startCommand); its log says why")
            }
            if let redis = try? await connector.connect(commandTimeout: .seconds(10)) {
                answered = true
                defer { Task { await redis.close() } }
                while ContinuousClock.now < deadline {
                    guard let info = try? await redis.info("persistence") else { break }
                    if info.int("loading") == 0 { return }
                    if ContinuousClock.now - lastReport > .seconds(2) {
                        logger.info("Redis is loading its data: \(info["loading_loaded_perc"] ?? "?")%")
                        lastReport = ContinuousClock.now
                    }
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw NodeControlError("Redis at \(connector.address) did not answer with its data loaded within \(loadTimeout) after \(startCommand)")
    }
}

/// Stops and starts Dynomite with the configured commands, waiting on its client port.
public struct DynomiteService: Sendable {
    let startCommand: ShellCommand
    let stopCommand: ShellCommand
    let host: String
    let port: Int
    var commandTimeout: Duration = .seconds(300)
    var waitTimeout: Duration = .seconds(120)

    /// Builds it from the configuration and dynomite.yml; `nil` for a plain Redis node.
    /// - Throws: When the node runs Dynomite but the commands to stop and start it are missing.
    public static func make(_ configuration: DynokeeperConfiguration, node: NodeSettings) throws -> DynomiteService? {
        let settings = configuration.dynomite
        guard settings.start != nil || settings.stop != nil || node.dynomite != nil else { return nil }
        guard let start = settings.start, let stop = settings.stop else {
            throw ConfigurationError(
                "this node runs Dynomite (node.dynomite_yaml or dynomite.* is set): set both dynomite.stop and dynomite.start so that a restore can stop it and start it again")
        }
        let listen = node.dynomite?.listen.flatMap(Self.hostAndPort)
        guard let port = settings.port ?? listen?.port else {
            throw ConfigurationError("set dynomite.port (or listen: in dynomite.yml) so that dynokeeper can tell when Dynomite is up")
        }
        return DynomiteService(
            startCommand: ShellCommand(start, key: "dynomite.start"), stopCommand: ShellCommand(stop, key: "dynomite.stop"),
            host: settings.host ?? listen?.host ?? "127.0.0.1", port: port)
    }

    /// `0.0.0.0:8102` → (127.0.0.1, 8102).
    static func hostAndPort(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]) else { return nil }
        let host = String(text[..<colon])
        return (host == "0.0.0.0" || host.isEmpty ? "127.0.0.1" : host, port)
    }

    public func isUp() async -> Bool { await PortProbe.isOpen(host: host, port: port) }

    public func stop() async throws {
        try await stopCommand.run(timeout: commandTimeout)
        try await PortProbe.wait(host: host, port: port, open: false, timeout: waitTimeout, what: "waiting for Dynomite to stop")
    }

    public func start() async throws {
        try await startCommand.run(timeout: commandTimeout)
        try await PortProbe.wait(host: host, port: port, open: true, timeout: waitTimeout, what: "waiting for Dynomite to start")
    }
}
