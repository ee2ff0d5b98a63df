import Foundation
package import ObjectStorage
package import ObjectStorageS3

extension SeaweedFS {
    /// dynokeeper's S3 store on this server, under a unique prefix of a bucket shared by the whole test run.
    /// - Parameters:
    ///   - prefix: The key prefix; a fresh one by default.
    ///   - partSize: Bytes per part (5 MiB, S3's smallest, keeps multipart tests small).
    ///   - concurrency: Parts in flight.
    ///   - secret: A secret to sign with instead of the right one.
    ///   - through: Another endpoint to reach it by (a fault proxy).
    ///   - retry: The retry policy; a quick one by default.
    package func makeStore(
        prefix: String? = nil, partSize: Int = 5 << 20, concurrency: Int = 4, secret: String? = nil,
        through: String? = nil,
        retry: RetryPolicy = RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(20))
    ) async throws -> S3Store {
        let bucket = try await SharedBucket.shared.name(self)
        let configuration = S3StoreConfiguration(
            location: S3Location(bucket: bucket, prefix: prefix ?? "test-\(UUID().uuidString.prefix(8))"),
            region: region, endpoint: through ?? endpoint, partSize: partSize, concurrency: concurrency, retry: retry)
        let credentials = StaticCredentialProvider(.init(accessKeyID: accessKey, secretAccessKey: secret ?? secretKey))
        return try S3Store(configuration: configuration, credentials: credentials)
    }
}

extension S3Store: TestResource {
    /// Shuts the store's HTTP client down.
    package func close() async { try? await shutdown() }
}

/// One bucket for all the tests of a run; each test works under its own prefix.
actor SharedBucket {
    static let shared = SharedBucket()
    private var bucket: String?

    func name(_ server: SeaweedFS) async throws -> String {
        if let bucket { return bucket }
        let name = try await server.makeBucket("dynokeeper")
        bucket = name
        return name
    }
}
