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

    package func resolve() async throws -> AWSCredentials? {
        guard let url else { return nil }
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
