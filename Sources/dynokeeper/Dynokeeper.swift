import ArgumentParser
import DynokeeperEngine

@main
struct Dynokeeper: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dynokeeper",
        abstract: "Backs up and restores the Redis data of Dynomite nodes to object storage.",
        discussion: """
            Configuration comes from --config FILE (default ./dynokeeper.yml, or $DYNOKEEPER_CONFIG), \
            overridden by DYNOKEEPER_* environment variables. AWS credentials come from the standard sources.
            """,
        version: DynokeeperVersion.current,
        subcommands: [BackupCommand.self, RestoreCommand.self, SnapshotsCommand.self, ConfigCommand.self, StorageCommand.self]
    )
}
