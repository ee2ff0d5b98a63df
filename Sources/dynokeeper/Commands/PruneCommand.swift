import ArgumentParser
import DynokeeperConfiguration
import DynokeeperEngine
import Foundation

struct PruneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Remove this node's snapshots that no retention rule keeps.",
        discussion: """
            A snapshot stays when any rule keeps it (restic's semantics; periods in UTC, the newest snapshot of each \
            counting). Never removed: the newest snapshot, a pinned one, one that a ring snapshot names. Without \
            rules on the command line, the configuration's retention: rules apply. A snapshot goes manifest first.
            """)

    @OptionGroup var options: GlobalOptions

    @Option(help: "Keep the newest N snapshots.") var keepLast: Int?
    @Option(help: "Keep the newest snapshot of each of the last N hours that have one.") var keepHourly: Int?
    @Option(help: "Keep the newest snapshot of each of the last N days that have one.") var keepDaily: Int?
    @Option(help: "Keep the newest snapshot of each of the last N ISO weeks that have one.") var keepWeekly: Int?
    @Option(help: "Keep the newest snapshot of each of the last N months that have one.") var keepMonthly: Int?
    @Option(help: "Keep every snapshot taken within this long before the newest: 36h, 7d.") var keepWithin: String?

    @Flag(help: "Prune the cluster's ring snapshots as wholes instead (each node's newest and pinned ones stay).")
    var ring = false
    @Flag(help: "List what would go and why the rest stays; remove nothing.") var dryRun = false
    @Flag(help: "One JSON object per snapshot and line.") var json = false

    /// The flags as the request the API takes too.
    var request: PruneRequest {
        PruneRequest(
            keepLast: keepLast, keepHourly: keepHourly, keepDaily: keepDaily, keepWeekly: keepWeekly,
            keepMonthly: keepMonthly, keepWithin: keepWithin, dryRun: dryRun)
    }

    func run() async throws {
        try await reportingErrors {
            try await NodeContext.with(options) { context in
                let pruner = SnapshotPruner(store: context.store, logger: context.logger)
                let policy = try request.policy(context.configuration.retention)
                let decisions =
                    ring
                    ? try await pruner.runRing(cluster: context.node.identity.cluster, policy: policy, dryRun: dryRun)
                    : try await pruner.run(context.node.identity, policy: policy, dryRun: dryRun)
                for decision in decisions {
                    if json {
                        print(try APIJSON.line(decision))
                    } else {
                        // One column for the verb, so that the ids line up.
                        let verb = decision.keep ? "keep" : dryRun ? "would remove" : "removed"
                        let detail =
                            decision.keep ? decision.reasons.joined(separator: ", ") : Format.bytes(decision.storedSize)
                        print(
                            "\(verb.padding(toLength: 12, withPad: " ", startingAt: 0))  \(decision.snapshot)  \(detail)"
                        )
                    }
                }
                if !json {
                    let snapshots = decisions.filter { $0.kind == nil }
                    let gone = snapshots.filter { !$0.keep }
                    print(
                        "\(dryRun ? "would remove" : "removed") \(gone.count) of \(snapshots.count) snapshot(s), \(Format.bytes(gone.reduce(0) { $0 + $1.storedSize })) stored"
                    )
                }
            }
        }
    }
}

struct PinCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pin", abstract: "Pin a snapshot of this node: prune never removes it.")

    @OptionGroup var options: GlobalOptions
    @Argument(help: "The snapshot id.") var id: String
    @Option(help: "Why it is kept (shown by snapshots show).") var note: String?

    func run() async throws {
        try await reportingErrors {
            try await NodeContext.with(options) { context in
                let entry = try await PinCommand.find(id, context: context)
                try await SnapshotPins(store: context.store).pin(entry, note: note)
                print("pinned snapshot \(entry.id) of \(entry.node.cluster) \(entry.node)")
            }
        }
    }

    static func find(_ id: String, context: NodeContext) async throws -> SnapshotEntry {
        try await SnapshotCatalog(store: context.store, logger: context.logger).snapshot(
            try SnapshotID.parse(id, as: "the snapshot id"), of: context.node.identity)
    }
}

struct UnpinCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unpin", abstract: "Unpin a snapshot of this node: prune may remove it again.")

    @OptionGroup var options: GlobalOptions
    @Argument(help: "The snapshot id.") var id: String

    func run() async throws {
        try await reportingErrors {
            try await NodeContext.with(options) { context in
                let entry = try await PinCommand.find(id, context: context)
                guard entry.pinned else {
                    print("snapshot \(entry.id) of \(entry.node.cluster) \(entry.node) was not pinned")
                    return
                }
                try await SnapshotPins(store: context.store).unpin(entry)
                print("unpinned snapshot \(entry.id) of \(entry.node.cluster) \(entry.node)")
            }
        }
    }
}
