import ArgumentParser
import DynokeeperConfiguration
import DynokeeperServer
import Foundation

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run as the node's sidecar: the REST API, the backup schedule, metrics.",
        discussion: """
            Listens on server.listen (default 127.0.0.1:8080). SIGTERM or SIGINT stop it gracefully: no new jobs, a \
            running backup aborted cleanly, a running restore finished first. SIGHUP re-reads the configuration.
            """)

    @OptionGroup var options: GlobalOptions

    func run() async throws {
        try await reportingErrors {
            let (configuration, logger) = try options.load()
            let daemon = try DynokeeperDaemon(
                configuration: configuration, path: options.config, environment: options.environment, logger: logger)
            try await daemon.run()
        }
    }
}

struct ScheduleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedule",
        abstract: "Print the next five scheduled backup times (UTC).")

    @OptionGroup var options: GlobalOptions

    @Option(help: "How many run times to print.")
    var count = 5

    func run() async throws {
        try await reportingErrors {
            let (configuration, _) = try options.load()
            let backup = configuration.backup
            print("schedule: \(backup.schedule) (UTC)")
            if !backup.enabled {
                print("scheduled backups are off (backup.enabled: false); when enabled they would run at:")
            }
            var date = Date()
            for _ in 0..<max(1, count) {
                guard let next = backup.schedule.next(after: date) else {
                    print("(no further run: the schedule names no date that exists)")
                    break
                }
                print(next.formatted(.iso8601))
                date = next
            }
        }
    }
}
