package import DynokeeperConfiguration
import Foundation
package import Logging
package import ObjectStorage

/// What one configuration builds for the node: its Redis connector, the Redis and Dynomite services, the node
/// guard, backups and restores. The CLI and the daemon build them here, and nowhere else.
package struct NodeComponents: Sendable {
    package let configuration: DynokeeperConfiguration
    package let node: NodeSettings
    package let store: any ObjectStore
    package let logger: Logger

    package init(configuration: DynokeeperConfiguration, node: NodeSettings, store: any ObjectStore, logger: Logger) {
        self.configuration = configuration
        self.node = node
        self.store = store
        self.logger = logger
    }

    package var connector: RedisConnector { RedisConnector(node: node, redis: configuration.redis, logger: logger) }

    /// The node lock and the unfinished-restore checks.
    package var nodeGuard: NodeGuard { NodeGuard(configuration: configuration, connector: connector, logger: logger) }

    /// The node's Redis as `redis.start` and `redis.stop` run it.
    package var redisService: RedisService { RedisService.make(configuration, connector: connector, logger: logger) }

    /// The node's Dynomite; `nil` for a plain Redis node.
    /// - Throws: When the node runs Dynomite but the commands to stop and start it are missing.
    package func dynomiteService() throws -> DynomiteService? { try DynomiteService.make(configuration, node: node) }

    /// The keys of `encryption.*`.
    package var keys: SnapshotKeyring { SnapshotKeyring(configuration.encryption) }

    package func backup(progress: (any ProgressReporter)?) -> NodeBackup {
        var backup = NodeBackup(
            node: node, connector: connector, store: store, dataDirectory: configuration.redis.dataDir, logger: logger,
            progress: progress)
        backup.keys = keys
        backup.dynomiteManagerTimeZone = configuration.restore.timeZone
        backup.stateFolder = { [configuration, connector] in
            try await NodeFolders.resolve(configuration, connector: connector).state
        }
        return backup
    }

    /// The point-in-time archiver of `pitr.*`.
    package func archiver() -> StreamArchiver {
        let nodeGuard = nodeGuard
        return StreamArchiver(
            node: node, connector: connector, store: store, keys: keys, settings: configuration.pitr,
            backup: backup(progress: nil), backupOptions: NodeBackup.Options(configuration.backup, type: .rdb),
            logger: logger
        ) {
            do {
                return try await nodeGuard.lockForBackup("point-in-time archive")
            } catch {
                switch DynokeeperError(error).code {
                case .busy, .unfinishedRestore: throw error
                default: return nil
                }
            }
        }
    }

    /// Checks stored snapshots, with the configured keys and `verify.redis_server`.
    package func verifier(progress: (any ProgressReporter)?) -> SnapshotVerifier {
        var verifier = SnapshotVerifier(store: store, logger: logger, progress: progress)
        verifier.keys = keys
        verifier.redisServer = configuration.verify.redisServer
        return verifier
    }

    /// Fetches snapshots into a folder, with the configured keys.
    package func export(progress: (any ProgressReporter)?) -> SnapshotExport {
        var export = SnapshotExport(store: store, logger: logger, progress: progress)
        export.keys = keys
        return export
    }

    package func restore(progress: (any ProgressReporter)?) -> NodeRestore {
        NodeRestore(
            configuration: configuration, node: node, connector: connector, store: store, logger: logger,
            progress: progress)
    }
}

extension RestoreRequest {
    /// The node whose snapshot is restored: the request's source, else `restore.source_*`, else this node.
    package func source(_ configuration: DynokeeperConfiguration, node: NodeSettings) -> NodeIdentity {
        var source = node.identity
        source.cluster = sourceCluster ?? configuration.restore.sourceCluster ?? source.cluster
        source.datacenter = sourceDatacenter ?? configuration.restore.sourceDatacenter ?? source.datacenter
        source.rack = sourceRack ?? configuration.restore.sourceRack ?? source.rack
        return source
    }

    /// The restore's options: the request, completed from the configuration.
    package func options(_ configuration: DynokeeperConfiguration, node: NodeSettings) -> NodeRestore.Options {
        var options = NodeRestore.Options(
            request: SnapshotSelector.Request(
                source: source(configuration, node: node), date: date ?? configuration.restore.date,
                snapshotID: snapshot,
                format: RestoreSource.Format(format ?? configuration.restore.format),
                dynomiteManagerType: configuration.backup.type))
        options.request.autoIncludesDynomiteManager = configuration.encryption.keyFile == nil
        options.request.dynomiteManagerTimeZone = configuration.restore.timeZone
        options.dryRun = dryRun
        options.force = force
        options.skipSafetySave = skipSafetySave
        options.toTime = toTime ?? (date == nil && snapshot == nil ? configuration.restore.toTime : nil)
        return options
    }
}

extension RingRestoreRequest {
    /// The cluster whose ring snapshot is restored: the request's, else `restore.source_cluster`, else this one.
    package func sourceCluster(_ configuration: DynokeeperConfiguration) -> String {
        sourceCluster ?? configuration.restore.sourceCluster ?? configuration.cluster
    }
}

extension JobResult {
    /// A backup's outcome.
    package init(_ report: NodeBackup.Report) {
        let manifest = report.manifest
        self.init(
            snapshot: manifest.snapshotID.text, location: report.location, size: manifest.size,
            storedSize: manifest.storedSize, keys: manifest.keyCount)
    }

    /// A restore's outcome (or, on a dry run, its plan).
    package init(_ report: NodeRestore.Report) {
        self.init(
            snapshot: report.source.id.text, source: "\(report.source.node.cluster)/\(report.source.node)",
            steps: report.steps.map { .init(name: $0.name, seconds: report.dryRun ? nil : $0.duration / .seconds(1)) },
            notes: report.notes, dryRun: report.dryRun)
    }
}
