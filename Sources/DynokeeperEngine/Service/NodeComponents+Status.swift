package import Foundation
import NodeControl

extension NodeComponents {
    /// Redis as `/v1/status` and `dynokeeper status` show it: up while something listens at its address (a TCP
    /// connection, no command, no credentials), and what `INFO` says when it answers.
    package func redisStatus() async -> NodeStatus.Redis {
        let address = "\(node.redisHost):\(node.redisPort)"
        let info = try? await connector.withConnection(commandTimeout: .seconds(5)) { try await $0.info() }
        guard let info else {
            let listens = await PortProbe.isOpen(host: node.redisHost, port: node.redisPort)
            return NodeStatus.Redis(address: address, up: listens, answers: false)
        }
        return NodeStatus.Redis(
            address: address, up: true, answers: true, loading: info.int("loading") == 1,
            lastSave: info.int("rdb_last_save_time").map { Date(timeIntervalSince1970: TimeInterval($0)) },
            version: info.version)
    }

    /// Whether Dynomite answers; `nil` for a plain Redis node.
    package func dynomiteUp() async -> Bool? {
        guard let dynomite = try? dynomiteService() else { return nil }
        return await dynomite.isUp()
    }

    /// The node's status document, as the API (`/v1/status`) and `dynokeeper status --json` show it.
    /// - Parameters:
    ///   - jobs: The daemon's jobs; `nil` from the command line, which runs none in the background.
    ///   - now: For the next scheduled backup.
    ///   - startedAt: When the daemon started; `nil` from the command line.
    package func status(jobs: JobRunner?, now: Date, startedAt: Date?) async -> NodeStatus {
        async let redis = redisStatus()
        async let dynomite = dynomiteUp()
        async let state = nodeGuard.inspect()
        var status = NodeStatus(
            version: DynokeeperVersion.current, node: node.identity, redis: await redis,
            dynomite: await dynomite.map { .init(up: $0) }, currentJob: await jobs?.current(),
            lastBackup: await jobs?.lastFinished(.backup), lastRestore: await jobs?.lastFinished(.restore),
            state: await state, backupsEnabled: configuration.backup.enabled,
            restoresEnabled: configuration.restore.enabled, schedule: configuration.backup.schedule.description,
            nextScheduledBackup: configuration.nextScheduledBackup(after: now), store: store.location,
            startedAt: startedAt)
        if configuration.restore.onStart {
            status.restoreOnStart = status.stateFolder.flatMap(NodeService.startupRecord)?.outcome ?? "pending"
        }
        return status
    }
}
