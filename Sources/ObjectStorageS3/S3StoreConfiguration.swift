package import NIOCore
package import ObjectStorage

/// Everything the S3 store needs to know, apart from credentials.
package struct S3StoreConfiguration: Sendable {
    /// Server-side encryption that S3 applies to what it stores.
    package enum ServerSideEncryption: Sendable, Equatable {
        /// `AES256`: keys managed by S3 (SSE-S3).
        case s3
        /// `aws:kms`, with a key id or the account's default key (SSE-KMS).
        case kms(keyID: String?)
    }

    /// S3 refuses parts smaller than 5 MiB (but the last).
    package static let minimumPartSize = 5 << 20
    /// S3 accepts at most 10,000 parts in an upload.
    package static let maximumParts = 10_000

    package var location: S3Location
    package var region: String
    /// A custom endpoint (`http://127.0.0.1:8333`), or `nil` for AWS.
    package var endpoint: String?
    /// Forces path-style or virtual-hosted addressing; `nil` chooses (see ``S3Endpoint``).
    package var pathStyle: Bool?
    /// The size of upload parts, at least 5 MiB.
    package var partSize: Int
    /// The size of the ranges whole-object downloads fetch in parallel, independent of the part size the object
    /// was uploaded with (a range is held in memory until its turn comes).
    package var downloadRangeSize: Int
    /// How many parts or ranges move at once, at most: fewer when ``bufferLimit`` would be exceeded.
    package var concurrency: Int
    /// The most bytes of parts (being assembled or in flight) or ranges (in flight or waiting) held in memory by
    /// one transfer: memory stays the same whatever the object's size, the part size or the concurrency.
    package var bufferLimit: Int = 32 << 20
    package var serverSideEncryption: ServerSideEncryption?
    package var retry: RetryPolicy
    /// The longest a single request may take, a whole part included.
    package var requestTimeout: TimeAmount
    /// A PEM file of certificate authorities to trust instead of the system's (`AWS_CA_BUNDLE`).
    package var caBundle: String?

    /// - Parameters:
    ///   - location: The bucket and prefix.
    ///   - region: The region; it signs every request.
    ///   - endpoint: A custom endpoint, or `nil` for AWS.
    ///   - pathStyle: Forces the addressing style.
    ///   - partSize: Bytes per part; 8 MiB by default (awscli's).
    ///   - concurrency: Parts in flight; 8 by default.
    ///   - serverSideEncryption: SSE-S3 or SSE-KMS.
    ///   - retry: Backoff for transient failures.
    ///   - requestTimeout: The deadline of one request.
    ///   - caBundle: Certificate authorities to trust.
    ///   - downloadRangeSize: Bytes per download range; 8 MiB by default.
    package init(
        location: S3Location,
        region: String = "us-east-1",
        endpoint: String? = nil,
        pathStyle: Bool? = nil,
        partSize: Int = 8 << 20,
        concurrency: Int = 8,
        serverSideEncryption: ServerSideEncryption? = nil,
        retry: RetryPolicy = RetryPolicy(),
        requestTimeout: TimeAmount = .minutes(15),
        caBundle: String? = nil,
        downloadRangeSize: Int = 8 << 20
    ) {
        self.downloadRangeSize = downloadRangeSize
        self.location = location
        self.region = region
        self.endpoint = endpoint
        self.pathStyle = pathStyle
        self.partSize = partSize
        self.concurrency = concurrency
        self.serverSideEncryption = serverSideEncryption
        self.retry = retry
        self.requestTimeout = requestTimeout
        self.caBundle = caBundle
    }

    /// Checks the limits S3 imposes.
    package func validate() throws {
        guard partSize >= Self.minimumPartSize else {
            throw S3ConfigurationError("part size \(partSize) is below S3's minimum of 5 MiB")
        }
        guard partSize <= 5 << 30 else {
            throw S3ConfigurationError("part size \(partSize) is above S3's maximum of 5 GiB")
        }
        guard downloadRangeSize >= 1 << 20 else {
            throw S3ConfigurationError("download range size \(downloadRangeSize) is below 1 MiB")
        }
        guard (1...64).contains(concurrency) else {
            throw S3ConfigurationError("concurrency \(concurrency) must be between 1 and 64")
        }
        guard !region.isEmpty else { throw S3ConfigurationError("the region is empty") }
    }

    /// The headers that ask for server-side encryption, on single uploads and multipart creation.
    var encryptionHeaders: [(name: String, value: String)] {
        switch serverSideEncryption {
        case nil: return []
        case .s3: return [("x-amz-server-side-encryption", "AES256")]
        case .kms(let keyID):
            var headers = [(name: "x-amz-server-side-encryption", value: "aws:kms")]
            if let keyID { headers.append(("x-amz-server-side-encryption-aws-kms-key-id", keyID)) }
            return headers
        }
    }
}

extension S3StoreConfiguration {
    /// Parts of `partSize` uploaded at once: as many as ``bufferLimit`` holds besides the part being assembled.
    func uploadsInFlight(partSize: Int) -> Int {
        max(1, min(concurrency, bufferLimit / max(partSize, 1) - 1))
    }

    /// Ranges fetched (or waiting to be read) at once: as many as ``bufferLimit`` holds.
    var rangesInFlight: Int { max(1, min(concurrency, bufferLimit / max(downloadRangeSize, 1))) }
}
