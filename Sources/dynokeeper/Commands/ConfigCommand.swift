import ArgumentParser
import DynokeeperConfiguration
import DynokeeperEngine
import Foundation

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Work with the configuration.",
        subcommands: [Check.self, ImportDM.self]
    )

    struct ImportDM: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "import-dm",
            abstract: "Print the dynokeeper.yml equivalent of a Dynomite-manager .properties file.",
            discussion:
                "Each setting comes with a comment naming the property it came from and what changes in meaning. Dynomite-manager's other properties are listed as not used. Unknown names under its backup prefixes, and two spellings of one setting that disagree, are errors."
        )

        @Argument(help: "The Dynomite-manager .properties file.")
        var file: String

        func run() async throws {
            try await reportingErrors {
                print(try DynomiteManagerImport.yaml(file: file), terminator: "")
            }
        }
    }

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate the configuration and print the effective settings (secrets hidden).",
            discussion:
                "Also checks what backups and restores need (dynomite.yml, password file, redis.conf, the restore commands), shows what the settings resolve to, and asks Redis how it runs. Exit status 1 when anything a job needs is wrong."
        )

        @OptionGroup var options: GlobalOptions

        func run() async throws {
            try await reportingErrors {
                let (configuration, logger) = try options.load()
                let check = await ConfigurationCheck.run(configuration, logger: logger)
                // What comes from dynomite.yml or a default shows as such, not as "(not set)".
                let resolved = Dictionary(check.resolved.map { ($0.name, ($0.value, $0.origin)) }) { first, _ in first }
                var lines = configuration.effective.map { (key: $0.key, value: $0.value, origin: "\($0.origin)") }
                for index in lines.indices where lines[index].value == "(not set)" {
                    if let (value, origin) = resolved[lines[index].key] {
                        lines[index].value = value; lines[index].origin = origin
                    }
                }
                let extra = check.resolved.filter { item in !lines.contains { $0.key == item.name } }
                    .map { (key: $0.name, value: $0.value, origin: $0.origin) }
                let width = (lines + extra).map(\.key.count).max() ?? 0
                print(check.hasErrors ? "configuration has problems" : "configuration is valid")
                for line in lines + extra {
                    print(
                        "\(line.key + String(repeating: " ", count: width - line.key.count))  \(line.value)  # \(line.origin)"
                    )
                }
                let credentials = await StoreFactory.describeCredentials(
                    configuration.storage, environment: ProcessInfo.processInfo.environment)
                print("credentials: \(credentials)")
                if !configuration.ignoredProperties.isEmpty {
                    print(
                        "note: \(configuration.ignoredProperties.count) Dynomite-manager propert\(configuration.ignoredProperties.count == 1 ? "y" : "ies") not used by dynokeeper: \(configuration.ignoredProperties.joined(separator: ", "))"
                    )
                }
                for finding in check.findings { print(finding) }
                if check.hasErrors { throw ExitCode(1) }
            }
        }
    }
}
