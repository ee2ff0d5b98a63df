import ArgumentParser
import DynokeeperConfiguration
import DynokeeperEngine
import Foundation

struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Take a backup of this node now: make Redis persist, upload the files, write the manifest.",
        discussion: "Runs whether or not backup.enabled is set (that setting gates scheduled backups only).")

    @OptionGroup var options: GlobalOptions

    @Option(help: "rdb (BGSAVE) or aof (BGREWRITEAOF); default from backup.type, else rdb.")
    var type: DynokeeperConfiguration.Backup.PersistenceType?

    @Flag(help: "Print the outcome as one line of JSON (the API's job result).")
    var json = false

    func run() async throws {
        try await reportingErrors {
            try await NodeContext.with(options) { context in
                // One operation at a time on the node, and none while a restore is unfinished.
                let lock = try await context.guard.lockForBackup()
                defer { lock.release() }
                try await context.components.refuseBackupWhileStartupRestorePending()
                let backup = context.components.backup(progress: TerminalProgress.ifTerminal())
                let report = try await backup.run(NodeBackup.Options(context.configuration.backup, type: type))
                if json {
                    print(try APIJSON.line(JobResult(report)))
                    return
                }
                let manifest = report.manifest
                print(
                    "snapshot \(manifest.snapshotID) of \(manifest.node.cluster) \(manifest.node) (\(manifest.type.rawValue))"
                )
                print("location: \(report.location)")
                for file in manifest.files {
                    print(
                        "  \(file.name): \(Format.bytes(file.size)) -> \(Format.bytes(file.storedSize)) sha256 \(file.sha256)"
                    )
                }
                print("keys: \(manifest.keyCount)\(manifest.keyspaceExact ? "" : " (approximate)")")
                print(
                    "save: \(Format.duration(report.saveDuration)), upload: \(Format.duration(report.uploadDuration))")
            }
        }
    }
}

extension DynokeeperConfiguration.Backup.PersistenceType: ExpressibleByArgument {}
