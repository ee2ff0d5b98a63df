package import DynokeeperConfiguration
import Foundation
package import Logging
import RedisClient

/// `dynokeeper config check` beyond the file itself: everything a backup or a restore would need (the node's
/// dynomite.yml, the password file, redis.conf, the state folder, the commands a restore runs), what the
/// settings resolve to, and how the node's Redis answers.
package struct ConfigurationCheck: Sendable {
    package struct Finding: Sendable, CustomStringConvertible {
        package enum Level: String, Sendable { case error, warning, note }
        package var level: Level
        package var message: String
        package var description: String { "\(level.rawValue): \(message)" }
    }

    /// What the settings resolve to: `(what, value, where from)`.
    package var resolved: [(name: String, value: String, origin: String)] = []
    package var findings: [Finding] = []
    package var hasErrors: Bool { findings.contains { $0.level == .error } }

    package static func run(_ configuration: DynokeeperConfiguration, logger: Logger) async -> ConfigurationCheck {
        var check = ConfigurationCheck()
        let node: NodeSettings
        do {
            node = try NodeSettings.resolve(configuration)
        } catch {
            check.findings.append(Finding(level: .error, message: "\(error)"))
            return check
        }
        let fromYAML = node.dynomite.map { "dynomite.yml \($0.path)" } ?? "default for a plain Redis"
        let identity = node.identity
        check.resolved.append(
            (
                "node.datacenter", identity.datacenter,
                configuration.node.datacenter != nil ? "node.datacenter" : fromYAML
            ))
        check.resolved.append(("node.rack", identity.rack, configuration.node.rack != nil ? "node.rack" : fromYAML))
        check.resolved.append(
            ("node.tokens", identity.tokens, configuration.node.tokens != nil ? "node.tokens" : fromYAML))
        let redisFrom = node.dynomite?.servers.first != nil ? "servers: in \(fromYAML)" : "default"
        check.resolved.append(
            ("redis.host", node.redisHost, configuration.redis.host != nil ? "redis.host" : redisFrom))
        check.resolved.append(
            ("redis.port", String(node.redisPort), configuration.redis.port != nil ? "redis.port" : redisFrom))

        let connector = RedisConnector(node: node, redis: configuration.redis, logger: logger)
        var credentialsReadable = true
        do {
            _ = try connector.credentials()
            if let file = configuration.redis.passwordFile, let mode = FileOwnership.of(file)?.mode, mode & 0o004 != 0 {
                check.findings.append(
                    Finding(
                        level: .warning,
                        message:
                            "redis.password_file \(file) is readable by every user (mode \(String(mode, radix: 8))): chmod o-r it"
                    ))
            }
        } catch {
            credentialsReadable = false
            check.findings.append(Finding(level: .error, message: "\(error)"))
        }
        var confReadable = true
        if let conf = configuration.redis.conf {
            do {
                _ = try RedisLayout.settings(conf: conf)
            } catch {
                confReadable = false
                check.findings.append(Finding(level: .error, message: "\(error)"))
            }
        }
        if let dataDir = configuration.redis.dataDir, FileOwnership.of(dataDir)?.fromFolder != true {
            check.findings.append(Finding(level: .error, message: "redis.data_dir \(dataDir) is not a folder"))
        }
        var folders: NodeFolders?
        if confReadable {
            do {
                folders = try NodeFolders.withoutRedis(configuration)
                if let folders {
                    check.resolved.append(("Redis's data folder", folders.data, folders.dataOrigin))
                    check.resolved.append(
                        (
                            "state folder", folders.state,
                            configuration.node.stateDir != nil ? "node.state_dir" : "default"
                        ))
                }
            } catch {
                check.findings.append(Finding(level: .error, message: "\(error)"))
            }
        }
        do {
            let keys = try SnapshotKeyring(configuration.encryption).all()
            for (index, key) in keys.enumerated() {
                check.resolved.append(
                    (
                        index == 0 ? "encryption key" : "earlier encryption key", "fingerprint \(key.fingerprint)",
                        key.origin
                    ))
            }
        } catch {
            check.findings.append(Finding(level: .error, message: "\(error)"))
        }
        if configuration.backup.enabled, let next = configuration.backup.schedule.next(after: Date()) {
            check.resolved.append(("next scheduled backup", next.formatted(.iso8601), "backup.schedule"))
        }
        if case .file = configuration.storage.url,
            configuration.storage.localFileMode & 0o007 != 0 || configuration.storage.localFolderMode & 0o007 != 0
        {
            check.findings.append(
                Finding(
                    level: .warning,
                    message:
                        "storage.local_file_mode \(String(configuration.storage.localFileMode, radix: 8)) and local_folder_mode \(String(configuration.storage.localFolderMode, radix: 8)) let other users of this host read the backups, the node's whole dataset"
                ))
        }
        if configuration.server.token == nil && !configuration.server.isLoopback {
            check.findings.append(
                Finding(
                    level: .error,
                    message:
                        "server.listen \(configuration.server.host):\(configuration.server.port) is reachable from other machines without server.token: dynokeeper serve would refuse to start"
                ))
        }

        // How Redis answers now. Down is a warning (it may be stopped while the configuration is checked); a
        // refused password is an error, since every job would fail.
        var supervised: String?
        var running: RedisLayout?
        if credentialsReadable {
            do {
                let version = try await connector.withConnection(commandTimeout: .seconds(5)) { redis in
                    let version = try await redis.info("server").version ?? "unknown"
                    supervised = try await redis.configGet("supervised")
                    running = try await RedisLayout.read(from: redis, dataDirectory: configuration.redis.dataDir)
                    return version
                }
                check.resolved.append(
                    (
                        "Redis",
                        "answers at \(connector.address), version \(version), supervised \(supervised ?? "no")", "Redis"
                    ))
            } catch let error as RedisError {
                if case .connectionFailed = error {
                    check.findings.append(Finding(level: .warning, message: "Redis does not answer: \(error)"))
                } else {
                    check.findings.append(Finding(level: .error, message: "\(error)"))
                }
            } catch {
                check.findings.append(Finding(level: .error, message: "\(error)"))
            }
        }
        if let running, let folders, let mismatch = folders.mismatch(runningDirectory: running.directory, configuration)
        {
            check.findings.append(Finding(level: configuration.restore.enabled ? .error : .warning, message: mismatch))
        }

        // What a restore needs: refused up front otherwise, so say so now.
        if configuration.restore.enabled {
            var missing: [String] = []
            if configuration.redis.start == nil {
                missing.append("set redis.start (restores stop Redis and must start it again)")
            }
            if configuration.redis.conf == nil && configuration.redis.dataDir == nil {
                missing.append("set redis.conf or redis.data_dir (to find an interrupted restore while Redis is down)")
            }
            do { _ = try DynomiteService.make(configuration, node: node) } catch { missing.append("\(error)") }
            if let supervised, supervised != "no", configuration.redis.stop == nil {
                missing.append(
                    "set redis.stop: Redis runs supervised (\(supervised)) and its supervisor would start it again after SHUTDOWN"
                )
            }
            if let directory = running?.directory ?? folders?.data {
                for problem in FolderAccess.restoreProblems(
                    directory: directory, appendDirectory: running?.appendDirectory)
                {
                    missing.append("\(problem) (see the README's Running in production)")
                }
            }
            for item in missing {
                check.findings.append(
                    Finding(level: .error, message: "restore.enabled is true, but restores would be refused: \(item)"))
            }
        }
        return check
    }
}
