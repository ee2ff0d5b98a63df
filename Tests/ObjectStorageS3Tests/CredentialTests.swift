import AWSSigV4
import AsyncHTTPClient
import DynokeeperTestSupport
import Foundation
import Testing

@testable import ObjectStorageS3

/// The standard AWS credential sources, with local files and scripted metadata servers.
@Suite struct CredentialTests {
    static let expiration = "2030-01-01T00:00:00Z"

    static func credentialDocument(_ id: String) -> String {
        #"{"Code":"Success","AccessKeyId":"\#(id)","SecretAccessKey":"secret-\#(id)","Token":"token-\#(id)","Expiration":"\#(expiration)"}"#
    }

    static func withClient(_ body: (HTTPClient) async throws -> Void) async throws {
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup)
        do {
            try await body(client)
        } catch {
            try await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }

    @Test func environmentVariables() async throws {
        let provider = EnvironmentCredentialProvider(environment: [
            "AWS_ACCESS_KEY_ID": "AKIAENV", "AWS_SECRET_ACCESS_KEY": "envsecret", "AWS_SESSION_TOKEN": "envtoken",
        ])
        let credentials = try #require(try await provider.resolve())
        #expect(
            credentials
                == AWSCredentials(accessKeyID: "AKIAENV", secretAccessKey: "envsecret", sessionToken: "envtoken"))
        #expect(try await EnvironmentCredentialProvider(environment: [:]).resolve() == nil)
        let error = await #expect(throws: CredentialError.self) {
            _ = try await EnvironmentCredentialProvider(environment: ["AWS_ACCESS_KEY_ID": "x"]).resolve()
        }
        #expect(error?.description.contains("AWS_SECRET_ACCESS_KEY is not") == true)
    }

    @Test func sharedFilesWithProfiles() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        try """
        [default]
        aws_access_key_id = AKIADEFAULT
        aws_secret_access_key = default-secret

        [backup]
        aws_access_key_id=AKIABACKUP
        aws_secret_access_key=backup-secret
        aws_session_token = backup-token
        """.write(toFile: folder.file("credentials"), atomically: false, encoding: .utf8)
        try """
        [default]
        region = eu-west-1
        [profile from-config]
        aws_access_key_id = AKIACONFIG
        aws_secret_access_key = config-secret
        region = ap-south-1
        [profile assumed]
        role_arn = arn:aws:iam::1:role/x
        source_profile = default
        """.write(toFile: folder.file("config"), atomically: false, encoding: .utf8)
        let files = [
            "AWS_SHARED_CREDENTIALS_FILE": folder.file("credentials"), "AWS_CONFIG_FILE": folder.file("config"),
        ]

        let fallback = ProfileCredentialProvider(environment: files)
        #expect(try await fallback.resolve()?.accessKeyID == "AKIADEFAULT")
        #expect(fallback.region() == "eu-west-1")

        let backup = ProfileCredentialProvider(environment: files.merging(["AWS_PROFILE": "backup"]) { $1 })
        #expect(
            try await backup.resolve()
                == AWSCredentials(
                    accessKeyID: "AKIABACKUP", secretAccessKey: "backup-secret", sessionToken: "backup-token"))

        let fromConfig = ProfileCredentialProvider(environment: files, profile: "from-config")
        #expect(try await fromConfig.resolve()?.secretAccessKey == "config-secret")
        #expect(fromConfig.region() == "ap-south-1")

        let missing = await #expect(throws: CredentialError.self) {
            _ = try await ProfileCredentialProvider(environment: files, profile: "nope").resolve()
        }
        #expect(missing?.description.contains("\"nope\" is in neither") == true)

        let assumed = await #expect(throws: CredentialError.self) {
            _ = try await ProfileCredentialProvider(environment: files, profile: "assumed").resolve()
        }
        #expect(assumed?.description.contains("role_arn") == true)

        // No files, no explicit profile: nothing to offer, the chain moves on.
        let none = ProfileCredentialProvider(environment: ["HOME": folder.path + "/nowhere"])
        #expect(try await none.resolve() == nil)
    }

    @Test func containerCredentialsWithAuthorizationToken() async throws {
        let server = try await FakeHTTPServer.start { request in
            guard request.header("authorization") == "Bearer pod-token" else { return .init(status: 401) }
            return .init(body: Self.credentialDocument("AKIACONTAINER"))
        }
        try await withResource(server) { server in
            try await Self.withClient { client in
                let provider = ContainerCredentialProvider(
                    environment: [
                        "AWS_CONTAINER_CREDENTIALS_FULL_URI": server.url + "/v2/credentials/abc",
                        "AWS_CONTAINER_AUTHORIZATION_TOKEN": "Bearer pod-token",
                    ], client: client)
                let credentials = try #require(try await provider.resolve())
                #expect(credentials.accessKeyID == "AKIACONTAINER")
                #expect(credentials.sessionToken == "token-AKIACONTAINER")
                #expect(credentials.expiration == ISO8601DateFormatter().date(from: Self.expiration))
                #expect(server.requests.first?.path == "/v2/credentials/abc")

                let refused = ContainerCredentialProvider(
                    environment: ["AWS_CONTAINER_CREDENTIALS_FULL_URI": server.url + "/x"], client: client)
                let error = await #expect(throws: CredentialError.self) { _ = try await refused.resolve() }
                #expect(error?.description.contains("answered 401") == true)

                #expect(try await ContainerCredentialProvider(environment: [:], client: client).resolve() == nil)
            }
        }
    }

    @Test func aFullURIOverHTTPMayOnlyNameLoopbackOrTheContainerAgents() async throws {
        // The authorization token goes to that URL: in clear only to what AWS SDKs allow.
        for allowed in [
            "http://127.0.0.1:8080/creds", "http://127.1.2.3/creds", "http://localhost/creds", "http://[::1]:9/creds",
            "http://169.254.170.2/v2/credentials", "http://169.254.170.23/v1/credentials",
            "http://[fd00:ec2::23]/v1/credentials", "https://credentials.example.com/creds",
        ] {
            #expect(throws: Never.self, "\(allowed)") { try ContainerCredentialProvider.check(fullURI: allowed) }
        }
        for refused in [
            "http://10.0.0.5/creds", "http://127.evil.example/creds", "http://credentials.example.com/creds",
            "ftp://127.0.0.1/creds", "not a url",
        ] {
            #expect(throws: CredentialError.self, "\(refused)") {
                try ContainerCredentialProvider.check(fullURI: refused)
            }
        }
        try await Self.withClient { client in
            let provider = ContainerCredentialProvider(
                environment: [
                    "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://192.0.2.10/creds",
                    "AWS_CONTAINER_AUTHORIZATION_TOKEN": "Bearer pod-token",
                ], client: client)
            let error = await #expect(throws: CredentialError.self) { _ = try await provider.resolve() }
            #expect(error?.description.contains("is refused") == true, "\(String(describing: error))")
        }
    }

    @Test func instanceMetadataVersion2() async throws {
        let server = try await FakeHTTPServer.start { request in
            switch (request.method, request.path) {
            case ("PUT", "/latest/api/token"):
                guard request.header("x-aws-ec2-metadata-token-ttl-seconds") == "21600" else {
                    return .init(status: 400)
                }
                return .init(body: "imds-session")
            case ("GET", "/latest/meta-data/iam/security-credentials/"):
                guard request.header("x-aws-ec2-metadata-token") == "imds-session" else { return .init(status: 401) }
                return .init(body: "backup-role\n")
            case ("GET", "/latest/meta-data/iam/security-credentials/backup-role"):
                guard request.header("x-aws-ec2-metadata-token") == "imds-session" else { return .init(status: 401) }
                return .init(body: Self.credentialDocument("ASIAIMDS"))
            default:
                return .init(status: 404)
            }
        }
        try await withResource(server) { server in
            try await Self.withClient { client in
                let provider = InstanceMetadataCredentialProvider(
                    environment: ["AWS_EC2_METADATA_SERVICE_ENDPOINT": server.url + "/"], client: client)
                let credentials = try #require(try await provider.resolve())
                #expect(credentials.accessKeyID == "ASIAIMDS")
                #expect(credentials.secretAccessKey == "secret-ASIAIMDS")
                #expect(server.requests.map(\.method) == ["PUT", "GET", "GET"])

                let disabled = InstanceMetadataCredentialProvider(
                    environment: [
                        "AWS_EC2_METADATA_SERVICE_ENDPOINT": server.url, "AWS_EC2_METADATA_DISABLED": "true",
                    ],
                    client: client)
                #expect(try await disabled.resolve() == nil)
                #expect(server.requests.count == 3)

                // Nothing listening: not on EC2, so no credentials rather than an error.
                let port = try FreePort.next()
                let absent = InstanceMetadataCredentialProvider(
                    environment: ["AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:\(port)"], client: client)
                #expect(try await absent.resolve() == nil)
            }
        }
    }

    /// A provider that counts calls and hands out numbered credentials expiring at a set time.
    actor Numbered: CredentialProvider {
        nonisolated var name: String { "numbered" }
        var calls = 0
        let expiresAt: Date?

        init(expiresAt: Date?) { self.expiresAt = expiresAt }

        func resolve() async throws -> AWSCredentials? {
            calls += 1
            try await Task.sleep(for: .milliseconds(20))
            return AWSCredentials(accessKeyID: "AKID\(calls)", secretAccessKey: "s", expiration: expiresAt)
        }
    }

    struct Nothing: CredentialProvider {
        var name: String { "nothing" }
        func resolve() async throws -> AWSCredentials? { nil }
    }

    final class Clock: @unchecked Sendable {
        let lock = NSLock()
        var now = Date(timeIntervalSince1970: 1_900_000_000)
        func read() -> Date { lock.withLock { now } }
        func advance(_ seconds: TimeInterval) { lock.withLock { now += seconds } }
    }

    @Test func chainTakesTheFirstSourceAndCachesUntilNearExpiry() async throws {
        let clock = Clock()
        let numbered = Numbered(expiresAt: clock.read() + 3600)
        let chain = CredentialChain(providers: [Nothing(), numbered], now: clock.read)

        // Ten concurrent callers share one fetch.
        try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<10 { group.addTask { try await chain.current().credentials.accessKeyID } }
            for try await id in group { #expect(id == "AKID1") }
        }
        #expect(await numbered.calls == 1)
        #expect(try await chain.current().source == "numbered")

        clock.advance(3600 - 301)
        #expect(try await chain.resolve()?.accessKeyID == "AKID1")
        clock.advance(2)  // now within five minutes of expiry
        #expect(try await chain.resolve()?.accessKeyID == "AKID2")
        #expect(await numbered.calls == 2)

        await chain.invalidate()
        #expect(try await chain.resolve()?.accessKeyID == "AKID3")
    }

    @Test func emptyChainSaysWhereItLooked() async throws {
        let chain = CredentialChain(providers: [Nothing()])
        let error = await #expect(throws: CredentialError.self) { _ = try await chain.resolve() }
        #expect(error?.description.contains("AWS_ACCESS_KEY_ID") == true)
        #expect(error?.description.contains("ECS/EC2") == true)
    }

    @Test func environmentWinsOverProfileInTheStandardChain() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        try "[default]\naws_access_key_id=AKIAFILE\naws_secret_access_key=file\n"
            .write(toFile: folder.file("credentials"), atomically: false, encoding: .utf8)
        try await Self.withClient { client in
            let files = [
                "AWS_SHARED_CREDENTIALS_FILE": folder.file("credentials"), "AWS_EC2_METADATA_DISABLED": "true",
            ]
            let withEnv = CredentialChain.standard(
                environment: files.merging(["AWS_ACCESS_KEY_ID": "AKIAENV", "AWS_SECRET_ACCESS_KEY": "env"]) { $1 },
                client: client)
            #expect(try await withEnv.current().source == "environment")
            let withoutEnv = CredentialChain.standard(environment: files, client: client)
            let (credentials, source) = try await withoutEnv.current()
            #expect(source == "profile default")
            #expect(credentials.accessKeyID == "AKIAFILE")
        }
    }
}
