import ArgumentParser
import DynokeeperConfiguration
import DynokeeperEngine
import Foundation
import Logging

/// The options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "The configuration file (default: $DYNOKEEPER_CONFIG or ./dynokeeper.yml).")
    var config: String?

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical (overrides log.level).")
    var logLevel: String?

    @Option(name: .long, help: "Log format: text or json (overrides log.format).")
    var logFormat: String?

    /// The environment the configuration is read with: the process's, with the flags' overrides.
    var environment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        if let logLevel { environment["DYNOKEEPER_LOG_LEVEL"] = logLevel }
        if let logFormat { environment["DYNOKEEPER_LOG_FORMAT"] = logFormat }
        return environment
    }

    /// Loads the configuration and sets up logging from it and the flags.
    func load() throws -> (DynokeeperConfiguration, Logger) {
        let configuration = try DynokeeperConfiguration.load(path: config, environment: environment)
        LoggingSetup.bootstrap(configuration.log)
        return (configuration, Logger(label: "dynokeeper"))
    }
}

/// Runs a command's body and turns its errors into one clear line on standard error and an exit status,
/// rather than a stack of types.
func reportingErrors(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as ExitCode {
        throw error
    } catch {
        let error = DynokeeperError(error)
        FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
        throw ExitCode(exitStatus(error.code))
    }
}

/// The one place where error codes become exit statuses. Every failure is 1, whatever its code (a busy node
/// included: scripts retry on non-zero), as the README promises; 2 belongs to `status` ("a restore waits to be
/// resumed or rolled back") and 64 to ArgumentParser's usage errors.
func exitStatus(_ code: DynokeeperError.Code) -> Int32 { 1 }
