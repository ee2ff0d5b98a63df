import Foundation

/// The `dynokeeper` executable built beside the tests, to test the command line as users run it.
public enum DynokeeperBinary {
    public static var path: String {
        get throws {
            let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            var candidates = [beside.appendingPathComponent("dynokeeper").path]
            // The test bundle may be a folder (macOS) or the product of another build folder.
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent()
            candidates.append(root.appendingPathComponent(".build/debug/dynokeeper").path)
            guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
                throw TestSupportError("dynokeeper is not built (looked at \(candidates)); run `swift build --build-tests`")
            }
            return found
        }
    }

    /// Runs dynokeeper with arguments and environment, in a folder.
    public static func run(
        _ arguments: [String], environment: [String: String?] = [:], in folder: String? = nil,
        timeout: Duration = .seconds(300)
    ) async throws -> ProcessResult {
        var clean: [String: String?] = [:]
        // The tests' own environment must not leak dynokeeper settings into the run.
        for name in ProcessInfo.processInfo.environment.keys where name.hasPrefix("DYNOKEEPER_") { clean[name] = .some(nil) }
        return try await ProcessRunner.run(
            try path, arguments, environment: clean.merging(environment) { $1 }, currentDirectory: folder,
            timeout: timeout)
    }
}
