package import AWSSigV4
import Foundation

/// Keys from the shared files: `~/.aws/credentials` (`AWS_SHARED_CREDENTIALS_FILE`) and `~/.aws/config`
/// (`AWS_CONFIG_FILE`), for the profile `AWS_PROFILE` (or `default`).
package struct ProfileCredentialProvider: CredentialProvider {
    package let profile: String
    let credentialsFile: String
    let configFile: String
    /// Whether the profile was asked for explicitly, in which case its absence is an error.
    let explicit: Bool

    package var name: String { "profile \(profile)" }

    /// - Parameters:
    ///   - environment: Where to find `AWS_PROFILE`, `AWS_SHARED_CREDENTIALS_FILE`, `AWS_CONFIG_FILE`, `HOME`.
    ///   - profile: A profile that wins over `AWS_PROFILE`.
    package init(environment: [String: String], profile: String? = nil) {
        let home = environment["HOME"] ?? NSHomeDirectory()
        self.profile = profile ?? environment["AWS_PROFILE"] ?? environment["AWS_DEFAULT_PROFILE"] ?? "default"
        self.explicit = profile != nil || environment["AWS_PROFILE"] != nil || environment["AWS_DEFAULT_PROFILE"] != nil
        self.credentialsFile = environment["AWS_SHARED_CREDENTIALS_FILE"] ?? home + "/.aws/credentials"
        self.configFile = environment["AWS_CONFIG_FILE"] ?? home + "/.aws/config"
    }

    package func resolve() async throws -> AWSCredentials? {
        let credentials = try Self.readINI(credentialsFile)
        let config = try Self.readINI(configFile)
        // The credentials file names sections by profile; the config file as "profile NAME" (but "default").
        let fromCredentials = credentials[profile]
        let fromConfig = config[profile == "default" ? "default" : "profile \(profile)"] ?? config[profile]
        guard fromCredentials != nil || fromConfig != nil else {
            if explicit {
                throw CredentialError("AWS profile \"\(profile)\" is in neither \(credentialsFile) nor \(configFile)")
            }
            return nil
        }
        let merged = (fromConfig ?? [:]).merging(fromCredentials ?? [:]) { _, fromCredentials in fromCredentials }
        if let id = merged["aws_access_key_id"], let secret = merged["aws_secret_access_key"] {
            return AWSCredentials(accessKeyID: id, secretAccessKey: secret, sessionToken: merged["aws_session_token"])
        }
        let unsupported = ["role_arn", "sso_session", "sso_start_url", "credential_process", "web_identity_token_file"]
            .filter { merged[$0] != nil }
        if !unsupported.isEmpty {
            throw CredentialError(
                "AWS profile \"\(profile)\" uses \(unsupported.joined(separator: ", ")), which dynokeeper does not support; give it keys, or use environment variables, ECS or EC2 instance credentials"
            )
        }
        if fromCredentials != nil || merged["aws_access_key_id"] != nil || merged["aws_secret_access_key"] != nil {
            throw CredentialError("AWS profile \"\(profile)\" needs both aws_access_key_id and aws_secret_access_key")
        }
        return nil
    }

    /// The region the profile names in the config file, if any.
    package func region() -> String? {
        guard let config = try? Self.readINI(configFile) else { return nil }
        return (config[profile == "default" ? "default" : "profile \(profile)"] ?? config[profile])?["region"]
    }

    /// Reads an INI file into sections of lower-cased keys; a missing file is empty.
    static func readINI(_ path: String) throws -> [String: [String: String]] {
        guard FileManager.default.fileExists(atPath: path) else { return [:] }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw CredentialError("cannot read \(path)")
        }
        return parseINI(text)
    }

    static func parseINI(_ text: String) -> [String: [String: String]] {
        var sections: [String: [String: String]] = [:]
        var current: String?
        for rawLine in text.split(whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                let name = line.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
                current = name.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
                sections[current!, default: [:]] = sections[current!] ?? [:]
                continue
            }
            guard let section = current, let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            sections[section, default: [:]][key] = value
        }
        return sections
    }
}
