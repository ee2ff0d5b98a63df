import ArgumentParser
import DynokeeperConfiguration
import DynokeeperEngine
import Foundation

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show this node's Redis, the operation running on it, and a restore that did not finish.",
        discussion:
            "Exit status 0 when the node is in order, 2 when a restore did not finish (resolve it with restore --resume or --rollback)."
    )

    @OptionGroup var options: GlobalOptions

    @Flag(help: "Print one JSON object.")
    var json = false

    func run() async throws {
        try await reportingErrors {
            var unfinished = false
            try await NodeContext.with(options) { context in
                let state = await context.guard.inspect()
                let redis = RedisService.make(
                    context.configuration, connector: context.connector, logger: context.logger)
                let up = await redis.isUp()
                unfinished = state.unfinishedRestore.map { !$0.running } ?? false
                if json {
                    struct Output: Encodable {
                        var node: NodeIdentity
                        var redis: String
                        var redisUp: Bool
                        var state: NodeState
                    }
                    let output = Output(
                        node: context.node.identity, redis: context.connector.address.description, redisUp: up,
                        state: state)
                    print(
                        String(decoding: try SnapshotManifest.makeEncoder(pretty: false).encode(output), as: UTF8.self))
                    return
                }
                print("node: \(context.node.identity.cluster) \(context.node.identity)")
                print("redis: \(context.connector.address) \(up ? "up" : "down")")
                print("state folder: \(state.stateFolder ?? "unknown")")
                if let problem = state.problem { print("problem: \(problem)") }
                print("running: \(state.operation.map(\.description) ?? "nothing")")
                guard let restore = state.unfinishedRestore else {
                    print("unfinished restore: none")
                    return
                }
                print(
                    "unfinished restore: snapshot \(restore.snapshot), at step \(restore.phase.rawValue), started \(restore.startedAt.formatted(.iso8601)) by pid \(restore.pid)"
                )
                if let error = restore.lastError { print("  last error: \(error)") }
                for file in restore.files {
                    print(
                        "  \(file.path): previous data \(file.previous ?? "none"), restored data \(file.restored ?? "none")"
                    )
                }
                print("  \(restore.resolve)")
            }
            if unfinished { throw ExitCode(2) }
        }
    }
}
