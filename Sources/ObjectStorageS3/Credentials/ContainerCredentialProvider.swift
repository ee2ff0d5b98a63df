package import AWSSigV4
package import AsyncHTTPClient
import Foundation
package import NIOCore

/// ECS (and EKS Pod Identity) container credentials: `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` (on
/// `169.254.170.2`) or `AWS_CONTAINER_CREDENTIALS_FULL_URI`, with `AWS_CONTAINER_AUTHORIZATION_TOKEN` or
/// `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` when set.
package struct ContainerCredentialProvider: CredentialProvider {
    let environment: [String: String]
    let client: HTTPClient
    let timeout: TimeAmount

    package var name: String { "container credentials" }

    /// - Parameters:
    ///   - environment: Where to find the variables.
    ///   - client: The HTTP client to ask with.
    ///   - timeout: How long the endpoint has to answer.
    package init(environment: [String: String], client: HTTPClient, timeout: TimeAmount = .seconds(5)) {
        self.environment = environment
        self.client = client
        self.timeout = timeout
    }

    var url: String? {
        if let relative = environment["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"], !relative.isEmpty {
            return "http://169.254.170.2" + relative
        }
        if let full = environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"], !full.isEmpty { return full }
        return nil
    }

    /// The hosts an `http://` full URI may name, as AWS SDKs allow them (botocore's list): loopback, and the ECS and
    /// EKS Pod Identity agents. The authorization token goes to that URL, so nothing else may receive it in clear.
    static let plainHTTPHosts: Set<String> = ["localhost", "169.254.170.2", "169.254.170.23", "fd00:ec2::23", "::1"]

    /// Refuses a full URI that AWS SDKs would not call: `https://` anywhere, `http://` only to ``plainHTTPHosts``
    /// and 127.0.0.0/8.
    static func check(fullURI: String) throws {
        guard let components = URLComponents(string: fullURI), let scheme = components.scheme?.lowercased(),
            let host = components.host?.lowercased(), !host.isEmpty
        else {
            throw CredentialError("AWS_CONTAINER_CREDENTIALS_FULL_URI \(fullURI) is not a URL")
        }
        let bare = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        switch scheme {
        case "https": return
        case "http"
        where plainHTTPHosts.contains(bare)
            || bare.split(separator: ".").first == "127"
                && bare.split(separator: ".").count == 4 && bare.split(separator: ".").allSatisfy({ UInt8($0) != nil }):
            return
        default:
            throw CredentialError(
                "AWS_CONTAINER_CREDENTIALS_FULL_URI \(fullURI) is refused: over http it may only name loopback or the ECS/EKS agents (169.254.170.2, 169.254.170.23, fd00:ec2::23), as AWS SDKs require; use https"
            )
        }
    }

    package func resolve() async throws -> AWSCredentials? {
        guard let url else { return nil }
        if environment["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]?.isEmpty ?? true { try Self.check(fullURI: url) }
        var request = HTTPClientRequest(url: url)
        if let tokenFile = environment["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"], !tokenFile.isEmpty {
            guard let token = try? String(contentsOfFile: tokenFile, encoding: .utf8) else {
                throw CredentialError("cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE \(tokenFile)")
            }
            request.headers.add(name: "Authorization", value: token.trimmingCharacters(in: .whitespacesAndNewlines))
        } else if let token = environment["AWS_CONTAINER_AUTHORIZATION_TOKEN"], !token.isEmpty {
            request.headers.add(name: "Authorization", value: token)
        }
        let source = "container credentials endpoint \(url)"
        do {
            let response = try await client.execute(request, timeout: timeout)
            let body = try await response.body.collect(upTo: 1 << 20)
            guard response.status == .ok else {
                throw CredentialError("\(source) answered \(response.status.code): \(String(buffer: body).prefix(200))")
            }
            return try RemoteCredentialsDocument.decode(Data(body.readableBytesView), source: source)
        } catch let error as CredentialError {
            throw error
        } catch {
            throw CredentialError("cannot reach \(source): \(error)")
        }
    }
}
