import ArgumentParser
import DynokeeperConfiguration
import DynokeeperEngine
import Foundation

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Work with the configuration.",
        subcommands: [Check.self]
    )

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate the configuration and print the effective settings (secrets hidden).")

        @OptionGroup var options: GlobalOptions

        func run() async throws {
            try await reportingErrors {
                let (configuration, _) = try options.load()
                let width = configuration.effective.map(\.key.count).max() ?? 0
                print("configuration is valid")
                for (key, value, origin) in configuration.effective {
                    let padded = key + String(repeating: " ", count: width - key.count)
                    print("\(padded)  \(value)  # \(origin)")
                }
                let credentials = await StoreFactory.describeCredentials(
                    configuration.storage, environment: ProcessInfo.processInfo.environment)
                print("credentials: \(credentials)")
            }
        }
    }
}
