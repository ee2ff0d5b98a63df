package import DynokeeperConfiguration
import Foundation
package import Logging
import NIOCore
package import RedisClient

/// Opens connections to the node's Redis with the configured credentials.
package struct RedisConnector: Sendable {
    package let address: RedisAddress
    let user: String?
    let passwordFile: String?
    let logger: Logger

    package init(node: NodeSettings, redis: DynokeeperConfiguration.Redis, logger: Logger) {
        self.address = RedisAddress(host: node.redisHost, port: node.redisPort)
        self.user = redis.user
        self.passwordFile = redis.passwordFile
        self.logger = logger
    }

    /// The password, read from `redis.password_file` each time (so a rotated password is picked up).
    func credentials() throws -> RedisCredentials? {
        guard let passwordFile else {
            if user != nil { throw ConfigurationError("redis.user is set but redis.password_file is not") }
            return nil
        }
        guard let data = FileManager.default.contents(atPath: passwordFile),
            let text = String(data: data, encoding: .utf8)
        else {
            throw ConfigurationError("redis.password_file: cannot read \(passwordFile)")
        }
        let password = text.trimmingCharacters(in: .newlines)
        guard !password.isEmpty else { throw ConfigurationError("redis.password_file \(passwordFile) is empty") }
        return RedisCredentials(user: user, password: password)
    }

    /// Connects and authenticates.
    /// - Parameter commandTimeout: How long each answer may take.
    package func connect(commandTimeout: Duration = .seconds(30)) async throws -> RedisConnection {
        let credentials = try credentials()
        do {
            return try await RedisConnection.connect(
                to: address, credentials: credentials, commandTimeout: TimeAmount(commandTimeout), logger: logger)
        } catch RedisError.server(let command, let message)
            where RedisError.server(command: command, message: message).isAuthenticationFailure
        {
            throw RedisError.server(
                command: "AUTH",
                message:
                    "\(message) — check redis.password_file\(user == nil ? "" : " and redis.user") (Redis at \(address))"
            )
        }
    }

    /// Connects, runs `body` with the connection, and closes it before returning or throwing (cancellation
    /// included).
    /// - Parameter commandTimeout: How long each answer may take.
    package func withConnection<T>(
        commandTimeout: Duration = .seconds(30), isolation: isolated (any Actor)? = #isolation,
        _ body: (RedisConnection) async throws -> T
    ) async throws -> T {
        try await connect(commandTimeout: commandTimeout).closing(body)
    }
}
