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
                // The document `GET /v1/status` answers, without the daemon's jobs.
                let status = await context.components.status(jobs: nil, now: Date(), startedAt: nil)
                unfinished = status.unfinishedRestore.map { !$0.running } ?? false
                if json {
                    print(try APIJSON.line(status))
                    return
                }
                print("node: \(status.node.cluster) \(status.node)")
                print("redis: \(status.redis.address) \(status.redis.up ? "up" : "down")")
                print("state folder: \(status.stateFolder ?? "unknown")")
                if let problem = status.stateProblem { print("problem: \(problem)") }
                print("running: \(status.nodeOperation.map(\.description) ?? "nothing")")
                guard let restore = status.unfinishedRestore else {
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
