package import AWSSigV4
package import AsyncHTTPClient
import Foundation
package import NIOCore

/// EC2 instance profile credentials through the instance metadata service, version 2 (a session token
/// first, then the role's credentials). Off when `AWS_EC2_METADATA_DISABLED=true`;
/// `AWS_EC2_METADATA_SERVICE_ENDPOINT` moves it (tests point it at a local server).
package struct InstanceMetadataCredentialProvider: CredentialProvider {
    let endpoint: String
    let disabled: Bool
    let client: HTTPClient
    let timeout: TimeAmount

    package var name: String { "EC2 instance metadata" }

    /// - Parameters:
    ///   - environment: Where to find the variables.
    ///   - client: The HTTP client to ask with.
    ///   - timeout: How long each call may take; short, since off EC2 nothing answers.
    package init(environment: [String: String], client: HTTPClient, timeout: TimeAmount = .seconds(2)) {
        var endpoint = environment["AWS_EC2_METADATA_SERVICE_ENDPOINT"] ?? "http://169.254.169.254"
        while endpoint.hasSuffix("/") { endpoint.removeLast() }
        self.endpoint = endpoint
        self.disabled = environment["AWS_EC2_METADATA_DISABLED"]?.lowercased() == "true"
        self.client = client
        self.timeout = timeout
    }

    package func resolve() async throws -> AWSCredentials? {
        guard !disabled else { return nil }
        let token: String
        do {
            var request = HTTPClientRequest(url: endpoint + "/latest/api/token")
            request.method = .PUT
            request.headers.add(name: "X-aws-ec2-metadata-token-ttl-seconds", value: "21600")
            token = try await text(request, what: "a session token")
        } catch is CredentialError {
            return nil  // Nothing answers: not on EC2 (or IMDS is off); the chain moves on.
        }
        let base = endpoint + "/latest/meta-data/iam/security-credentials/"
        var roleRequest = HTTPClientRequest(url: base)
        roleRequest.headers.add(name: "X-aws-ec2-metadata-token", value: token)
        let roles = try await text(roleRequest, what: "the instance's role")
        guard let role = roles.split(whereSeparator: \.isNewline).first.map(String.init), !role.isEmpty else {
            throw CredentialError("EC2 instance metadata at \(endpoint) lists no IAM role: attach an instance profile")
        }
        var request = HTTPClientRequest(url: base + role)
        request.headers.add(name: "X-aws-ec2-metadata-token", value: token)
        let document = try await text(request, what: "the credentials of role \(role)")
        return try RemoteCredentialsDocument.decode(Data(document.utf8), source: "EC2 instance metadata (role \(role))")
    }

    private func text(_ request: HTTPClientRequest, what: String) async throws -> String {
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: timeout)
        } catch {
            throw CredentialError("EC2 instance metadata at \(endpoint) did not answer for \(what): \(error)")
        }
        let body = try await response.body.collect(upTo: 1 << 20)
        guard response.status == .ok else {
            throw CredentialError("EC2 instance metadata at \(endpoint) answered \(response.status.code) for \(what)")
        }
        return String(buffer: body)
    }
}
