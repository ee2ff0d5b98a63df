package import AWSSigV4
package import AsyncHTTPClient
package import Foundation

/// The standard AWS order: environment, shared files (profile), container credentials, EC2 instance
/// metadata. The first source that has credentials wins; they are cached and refreshed five minutes
/// before they expire, one refresh at a time however many requests wait for it.
package actor CredentialChain: CredentialProvider {
    package nonisolated let providers: [any CredentialProvider]
    /// How long before expiry the credentials are refreshed.
    package nonisolated let refreshMargin: TimeInterval
    private let now: @Sendable () -> Date
    private var cached: (credentials: AWSCredentials, source: String)?
    private var refreshing: Task<(AWSCredentials, String), any Error>?

    package nonisolated var name: String { "credential chain" }

    /// - Parameters:
    ///   - providers: The sources, in order.
    ///   - refreshMargin: How long before expiry to refresh.
    ///   - now: The clock, injectable for tests.
    package init(
        providers: [any CredentialProvider], refreshMargin: TimeInterval = 300,
        now: @escaping @Sendable () -> Date = Date.init
    ) {
        self.providers = providers
        self.refreshMargin = refreshMargin
        self.now = now
    }

    /// The credentials to sign with now.
    package func resolve() async throws -> AWSCredentials? {
        try await current().credentials
    }

    /// The credentials and the name of the source they came from.
    package func current() async throws -> (credentials: AWSCredentials, source: String) {
        if let cached, !needsRefresh(cached.credentials) { return cached }
        if let refreshing { return try await refreshing.value }
        let providers = providers
        let task = Task { () throws -> (AWSCredentials, String) in
            for provider in providers {
                if let credentials = try await provider.resolve() { return (credentials, provider.name) }
            }
            throw CredentialError(
                "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile in ~/.aws/credentials (AWS_PROFILE), or run with ECS/EC2 instance credentials"
            )
        }
        refreshing = task
        defer { refreshing = nil }
        let result = try await task.value
        cached = result
        return result
    }

    /// Drops the cached credentials, after S3 refused them as expired.
    package func invalidate() { cached = nil }

    private func needsRefresh(_ credentials: AWSCredentials) -> Bool {
        guard let expiration = credentials.expiration else { return false }
        return expiration.timeIntervalSince(now()) < refreshMargin
    }
}

extension CredentialChain {
    /// The standard chain for an environment.
    /// - Parameters:
    ///   - environment: The process environment (or a test's).
    ///   - profile: A profile name that wins over `AWS_PROFILE`.
    ///   - client: The HTTP client for container and instance credentials.
    package static func standard(
        environment: [String: String], profile: String? = nil, client: HTTPClient
    ) -> CredentialChain {
        CredentialChain(providers: [
            EnvironmentCredentialProvider(environment: environment),
            ProfileCredentialProvider(environment: environment, profile: profile),
            ContainerCredentialProvider(environment: environment, client: client),
            InstanceMetadataCredentialProvider(environment: environment, client: client),
        ])
    }
}
