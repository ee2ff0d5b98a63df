import Foundation

/// The `dynokeeper` executable, to test the command line and `serve` as users run them: the release binary when
/// `TEST_DYNOKEEPER_BINARY` names it (`make test` does: that is what users run, and the optimizer has
/// miscompiled code the debug build ran fine), else the one built beside the tests.
package enum DynokeeperBinary {
    package static var path: String {
        get throws {
            if let chosen = ProcessInfo.processInfo.environment["TEST_DYNOKEEPER_BINARY"], !chosen.isEmpty {
                guard FileManager.default.isExecutableFile(atPath: chosen) else {
                    throw TestSupportError(
                        "TEST_DYNOKEEPER_BINARY=\(chosen) is not an executable; run `swift build -c release`")
                }
                return chosen
            }
            let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            var candidates = [beside.appendingPathComponent("dynokeeper").path]
            // The test bundle may be a folder (macOS) or the product of another build folder.
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent()
            candidates.append(root.appendingPathComponent(".build/debug/dynokeeper").path)
            guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
                throw TestSupportError(
                    "dynokeeper is not built (looked at \(candidates)); run `swift build --build-tests`")
            }
            return found
        }
    }

    /// Runs dynokeeper with arguments and environment, in a folder.
    /// - Parameter user: Who runs it (see ``SystemUsers``).
    package static func run(
        _ arguments: [String], environment: [String: String?] = [:], in folder: String? = nil,
        timeout: Duration = .seconds(300), as user: SystemUsers.Runner = .current
    ) async throws -> ProcessResult {
        let command = try commandLine(arguments, as: user)
        return try await ProcessRunner.run(
            command[0], Array(command.dropFirst()), environment: cleanEnvironment(environment),
            currentDirectory: folder,
            timeout: timeout)
    }

    /// The program and arguments that run dynokeeper, as this user or as the unprivileged one.
    package static func commandLine(_ arguments: [String], as user: SystemUsers.Runner = .current) throws -> [String] {
        user.prefix + [try path] + arguments
    }

    /// The tests' own environment must not leak dynokeeper settings into a run.
    package static func cleanEnvironment(_ environment: [String: String?]) -> [String: String?] {
        var clean: [String: String?] = [:]
        for name in ProcessInfo.processInfo.environment.keys where name.hasPrefix("DYNOKEEPER_") {
            clean[name] = .some(nil)
        }
        return clean.merging(environment) { $1 }
    }

    /// Starts `dynokeeper serve` on a configuration written to `folder/dynokeeper.yml` (it must listen on
    /// `127.0.0.1:port`), with a clean environment, and waits until the API listens.
    package static func serve(
        config: String, port: Int, folder: TemporaryDirectory, log: String = "serve.log"
    ) async throws -> BackgroundProcess {
        let path = folder.file("dynokeeper.yml")
        try config.write(toFile: path, atomically: false, encoding: .utf8)
        let serve = try BackgroundProcess(
            try Self.path, ["serve", "--config", path], logPath: folder.file(log),
            environment: cleanEnvironment([:]), currentDirectory: folder.path)
        try await serve.waitUntil("the API", timeout: .seconds(60)) { FreePort.isListening(port) }
        return serve
    }
}
