package import DynokeeperConfiguration
package import Logging
package import ObjectStorage
import ObjectStorageS3

/// Builds the object store a configuration names.
package enum StoreFactory {
    /// - Parameters:
    ///   - storage: The `storage` section.
    ///   - environment: Where AWS credentials and `AWS_CA_BUNDLE` are read.
    ///   - logger: Where the store reports retries.
    /// - Returns: The store; call ``ObjectStore/shutdown()`` when done.
    package static func makeStore(
        _ storage: DynokeeperConfiguration.Storage, environment: [String: String], logger: Logger
    ) throws -> any ObjectStore {
        switch storage.url {
        case .file(let path):
            return LocalDirectoryStore(
                root: path, fileMode: storage.localFileMode, folderMode: storage.localFolderMode)
        case .s3(let bucket, let prefix):
            var encryption: S3StoreConfiguration.ServerSideEncryption?
            switch storage.serverSideEncryption {
            case nil: encryption = nil
            case .aes256: encryption = .s3
            case .kms: encryption = .kms(keyID: storage.kmsKeyID)
            }
            var configuration = S3StoreConfiguration(
                location: storage.dynomiteManagerBaseDir.map { S3Location(bucket: bucket, literalKeyRoot: $0 + "/") }
                    ?? S3Location(bucket: bucket, prefix: prefix),
                region: storage.region,
                endpoint: storage.endpoint,
                pathStyle: storage.pathStyle,
                partSize: storage.partSizeMB << 20,
                concurrency: storage.concurrency,
                serverSideEncryption: encryption,
                retry: RetryPolicy(maxAttempts: storage.maxAttempts, giveUpAfter: .seconds(storage.giveUpAfterSeconds)),
                caBundle: environment["AWS_CA_BUNDLE"].flatMap { $0.isEmpty ? nil : $0 })
            configuration.bufferLimit = storage.bufferMB << 20
            do {
                return try S3Store(
                    configuration: configuration, environment: environment, profile: storage.profile, logger: logger)
            } catch let error as S3ConfigurationError {
                throw ConfigurationError("storage: \(error.description)")
            }
        }
    }

    /// Where credentials would come from, checked without touching the network (environment and shared
    /// files only), for `config check`.
    package static func describeCredentials(
        _ storage: DynokeeperConfiguration.Storage, environment: [String: String]
    ) async -> String {
        guard case .s3 = storage.url else { return "not needed (local directory store)" }
        do {
            if let found = try await EnvironmentCredentialProvider(environment: environment).resolve() {
                return "environment variables (\(found.redactedAccessKeyID), secret <redacted>)"
            }
            let profile = ProfileCredentialProvider(environment: environment, profile: storage.profile)
            if let found = try await profile.resolve() {
                return "\(profile.name) (\(found.redactedAccessKeyID), secret <redacted>)"
            }
            return "none in the environment or ~/.aws files; ECS container or EC2 instance credentials will be tried"
        } catch {
            return "error: \(error)"
        }
    }
}
