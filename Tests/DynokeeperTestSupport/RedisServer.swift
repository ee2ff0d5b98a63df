package import Foundation

/// A private redis-server on a free loopback port in its own folder, started and stopped by the test.
package final class RedisServer: Sendable {
    package let port: Int
    package let directory: TemporaryDirectory
    package let password: String?
    package let process: BackgroundProcess

    private init(port: Int, directory: TemporaryDirectory, password: String?, process: BackgroundProcess) {
        self.port = port
        self.directory = directory
        self.password = password
        self.process = process
    }

    /// Starts a server.
    /// - Parameters:
    ///   - arguments: Extra `--option value` arguments, such as `["--appendonly", "yes"]`.
    ///   - password: Sets `requirepass`.
    ///   - directory: The data folder to use (a new one by default).
    ///   - port: The port (a free one by default).
    package static func start(
        arguments: [String] = [], password: String? = nil, directory: TemporaryDirectory? = nil, port: Int? = nil
    ) async throws -> RedisServer {
        let directory = try directory ?? TemporaryDirectory(prefix: "redis")
        var lastError: any Error = TestSupportError("redis-server did not start")
        for _ in 0..<3 {
            let port = try port ?? FreePort.next()
            var options = [
                "--port", String(port), "--bind", "127.0.0.1", "--dir", directory.path, "--save", "",
                "--daemonize", "no", "--logfile", "", "--enable-debug-command", "local",
            ]
            if let password { options += ["--requirepass", password] }
            let process = try BackgroundProcess(
                "redis-server", options + arguments, logPath: directory.file("redis-\(port).log"))
            let server = RedisServer(port: port, directory: directory, password: password, process: process)
            do {
                try await process.waitUntil("redis-server on port \(port)", timeout: .seconds(20)) {
                    guard FreePort.isListening(port) else { return false }
                    let pong = try? await server.cli(["PING"])
                    return pong?.stdoutText.contains("PONG") == true
                }
                return server
            } catch {
                lastError = error
                await process.stop()
            }
        }
        throw lastError
    }

    /// Runs redis-cli against this server.
    package func cli(_ arguments: [String], input: Data? = nil) async throws -> ProcessResult {
        var options = ["-p", String(port), "--no-auth-warning"]
        if let password { options += ["-a", password] }
        return try await ProcessRunner.run("redis-cli", options + arguments, input: input, timeout: .seconds(60))
    }

    /// Runs redis-cli and returns its trimmed output, failing on a non-zero exit or an `ERR` answer.
    @discardableResult
    package func command(_ arguments: String...) async throws -> String {
        let result = try await cli(arguments)
        let text = result.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
        guard result.status == 0, !text.hasPrefix("ERR"), !text.hasPrefix("WRONGTYPE") else {
            throw TestSupportError("redis-cli \(arguments.joined(separator: " ")) failed: \(text) \(result.stderrText)")
        }
        return text
    }

    /// Stops the server without saving, by PID.
    package func stop() async {
        await process.stop()
    }

    /// Stops the server and removes its folder.
    package func stopAndRemove() async {
        await stop()
        directory.remove()
    }
}

extension RedisServer: TestResource {
    /// Stops the server and removes its folder (``stopAndRemove()``).
    package func close() async { await stopAndRemove() }
}
