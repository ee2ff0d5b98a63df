import AWSSigV4
import Crypto
import DynokeeperTestSupport
import Foundation
import NIOCore
import ObjectStorage
import Testing

@testable import ObjectStorageS3

/// The requests the S3 store sends, against a scripted server: retries, encryption headers, aborts.
@Suite struct S3RequestTests {
    static func store(
        _ server: FakeHTTPServer, partSize: Int = 5 << 20, encryption: S3StoreConfiguration.ServerSideEncryption? = nil,
        attempts: Int = 3
    ) throws -> S3Store {
        let configuration = S3StoreConfiguration(
            location: S3Location(bucket: "fake-bucket", prefix: "pre"), endpoint: server.url, partSize: partSize,
            concurrency: 2, serverSideEncryption: encryption,
            retry: RetryPolicy(maxAttempts: attempts, baseDelay: .milliseconds(5)))
        return try S3Store(
            configuration: configuration,
            credentials: StaticCredentialProvider(.init(accessKeyID: "AKID", secretAccessKey: "secret")))
    }

    static func md5Hex(_ bytes: [UInt8]) -> String { SigV4Signer.hex(Insecure.MD5.hash(data: bytes)) }

    /// A minimal S3: multipart calls and PUT answered with the ETags S3 would give.
    static func fakeS3(failPart: Int? = nil) -> @Sendable (FakeHTTPServer.Request) async -> FakeHTTPServer.Response {
        { request in
            switch (request.method, request.query) {
            case ("POST", "uploads="), ("POST", "uploads"):
                return .init(
                    body: "<InitiateMultipartUploadResult><UploadId>UP-1</UploadId></InitiateMultipartUploadResult>")
            case ("PUT", let query) where query.contains("partNumber="):
                if let failPart, query.contains("partNumber=\(failPart)&") {
                    return .init(
                        status: 400, body: "<Error><Code>InvalidArgument</Code><Message>bad part</Message></Error>")
                }
                return .init(headers: [("ETag", "\"\(md5Hex(request.body))\"")])
            case ("POST", let query) where query.hasPrefix("uploadId="):
                return .init(
                    body: "<CompleteMultipartUploadResult><ETag>\"whatever-2\"</ETag></CompleteMultipartUploadResult>")
            case ("DELETE", _):
                return .init(status: 204)
            case ("PUT", _):
                return .init(headers: [("ETag", "\"\(md5Hex(request.body))\"")])
            default:
                return .init(status: 400, body: "<Error><Code>Unexpected</Code></Error>")
            }
        }
    }

    @Test func retriesSlowDownAndServerErrorsThenSucceeds() async throws {
        let calls = CallCounter()
        let server = try await FakeHTTPServer.start { request in
            switch calls.next() {
            case 1:
                return .init(
                    status: 503,
                    body: "<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>")
            case 2: return .init(status: 500, body: "<Error><Code>InternalError</Code><Message>oops</Message></Error>")
            default: return .init(headers: [("ETag", "\"\(Self.md5Hex(request.body))\"")])
            }
        }
        try await withResource(server) { server in
            try await withResource(Self.store(server)) { store in
                let info = try await store.put("k", bytes: ByteBuffer(string: "payload"))
                #expect(info.size == 7)
                #expect(server.requests.count == 3)
                #expect(server.requests.allSatisfy { $0.path == "/fake-bucket/pre/k" })
            }
        }
    }

    /// Dynomite-manager's base_dir joined literally: `/dm/` puts keys at `/dm//dc1/…`, sent as they are (S3 keeps
    /// every slash), and listings of such keys map back to the store's keys.
    @Test func aLiteralKeyRootIsSentAsItIsAndListedBack() async throws {
        @Sendable func listing(_ keys: [String], next: String? = nil) -> FakeHTTPServer.Response {
            let contents = keys.map { "<Contents><Key>\($0)</Key><Size>1</Size></Contents>" }.joined()
            let truncation = next.map { "true</IsTruncated><NextContinuationToken>\($0)</NextContinuationToken>" }
            return .init(
                body:
                    "<ListBucketResult><IsTruncated>\(truncation ?? "false</IsTruncated>")\(contents)</ListBucketResult>"
            )
        }
        let server = try await FakeHTTPServer.start { request in
            // A store that collapses `//` (as SeaweedFS does) lists nothing under the literal prefix.
            if request.query.contains("prefix=%2Fdm%2F%2Fdc2") { return listing([]) }
            if request.query.contains("prefix=dm%2Fdc2") {
                return request.query.contains("continuation-token=T1")
                    ? listing(["dm/dc2/y"]) : listing(["dm/dc2/x"], next: "T1")
            }
            if request.method == "GET" && request.query.contains("list-type=2") {
                return .init(
                    body: """
                        <ListBucketResult><IsTruncated>false</IsTruncated>\
                        <Contents><Key>/dm//dc1/rack1/0/1763596800000</Key><Size>3</Size>\
                        <LastModified>2026-11-20T00:00:00.000Z</LastModified><ETag>"e"</ETag></Contents>\
                        </ListBucketResult>
                        """)
            }
            return .init(headers: [("ETag", "\"\(Self.md5Hex(request.body))\"")])
        }
        try await withResource(server) { server in
            let configuration = S3StoreConfiguration(
                location: S3Location(bucket: "fake-bucket", literalKeyRoot: "/dm//"), endpoint: server.url,
                partSize: 5 << 20, retry: RetryPolicy(maxAttempts: 1))
            let store = try S3Store(
                configuration: configuration,
                credentials: StaticCredentialProvider(.init(accessKeyID: "AKID", secretAccessKey: "secret")))
            try await withResource(store) { store in
                _ = try await store.put("dc1/rack1/0/1763596800000", bytes: ByteBuffer(string: "abc"))
                let listed = try await store.listAll(prefix: "dc1/rack1/0/")
                #expect(listed.map(\.key) == ["dc1/rack1/0/1763596800000"])
                let paths = server.requests.map(\.path)
                #expect(paths.first == "/fake-bucket//dm//dc1/rack1/0/1763596800000", "\(paths)")
                let listing = try #require(server.requests.last)
                #expect(listing.query.contains("prefix=%2Fdm%2F%2Fdc1%2Frack1%2F0%2F"), "\(listing.query)")
                // Nothing under the literal prefix: the collapsed one is read, all its pages.
                #expect(try await store.listAll(prefix: "dc2/").map(\.key) == ["dc2/x", "dc2/y"])
            }
        }
    }

    @Test func everyTransientStatusIsRetriedAndOtherClientErrorsAreNot() async throws {
        let transient: [(Int, String)] = [
            (429, "TooManyRequests"), (500, "InternalError"), (502, "BadGateway"), (503, "SlowDown"),
            (503, "ServiceUnavailable"), (504, "GatewayTimeout"),
        ]
        let permanent: [(Int, String)] = [
            (400, "InvalidArgument"), (403, "AccessDenied"), (404, "NoSuchBucket"), (409, "OperationAborted"),
            (411, "MissingContentLength"),
        ]
        for (status, code) in transient + permanent {
            let calls = CallCounter()
            let server = try await FakeHTTPServer.start { request in
                guard calls.next() == 1 else { return .init(headers: [("ETag", "\"\(Self.md5Hex(request.body))\"")]) }
                return .init(status: status, body: "<Error><Code>\(code)</Code><Message>no</Message></Error>")
            }
            try await withResource(server) { server in
                try await withResource(Self.store(server, attempts: 5)) { store in
                    let retried = transient.contains { $0 == (status, code) }
                    if retried {
                        try await store.put("k", bytes: ByteBuffer(string: "payload"))
                    } else {
                        let error = await #expect(throws: ObjectStoreError.self, "\(status) \(code)") {
                            try await store.put("k", bytes: ByteBuffer(string: "payload"))
                        }
                        #expect(error?.message.contains(code) == true, "\(String(describing: error))")
                    }
                    #expect(server.requests.count == (retried ? 2 : 1), "\(status) \(code)")
                }
            }
        }
    }

    @Test func aPartThatFailsAgainAndAgainWhileOthersGoThroughDoesNotFailTheUpload() async throws {
        // Part 1 fails four times in a row, more than the three attempts allowed, but each failure is answered only
        // after another part went through: the upload keeps moving, so it must not fail.
        let partOneCalls = CallCounter()
        let otherParts = CallCounter()
        let fake = Self.fakeS3()
        let server = try await FakeHTTPServer.start { request in
            if request.method == "PUT", request.query.contains("partNumber=") {
                guard request.query.contains("partNumber=1&") else {
                    _ = otherParts.next()
                    return await fake(request)
                }
                let call = partOneCalls.next()
                if call <= 4 {
                    // Another part arrives (and is answered) first; bounded, in case none comes.
                    for _ in 0..<400 where otherParts.count < call {
                        try? await Task.sleep(for: .milliseconds(25))
                    }
                    try? await Task.sleep(for: .milliseconds(50))
                    return .init(status: 503, body: "<Error><Code>SlowDown</Code><Message>slow</Message></Error>")
                }
            }
            return await fake(request)
        }
        try await withResource(server) { server in
            try await withResource(Self.store(server, attempts: 3)) { store in
                let bytes = ByteBuffer(repeating: 7, count: 10 * (5 << 20) + 1)
                let info = try await store.put("big", bytes: bytes)
                #expect(info.size == Int64(bytes.readableBytes))
                let partOne = server.requests.filter { $0.method == "PUT" && $0.query.contains("partNumber=1&") }
                #expect(partOne.count == 5)
                // A body handed over in one piece still goes up a part at a time.
                let parts = server.requests.filter { $0.method == "PUT" && $0.query.contains("partNumber=") }
                #expect(parts.allSatisfy { $0.body.count <= 5 << 20 })
                #expect(Set(parts.map { $0.query.prefix { $0 != "&" } }).count == 11)
            }
        }
    }

    @Test func persistentServerErrorsEndInAClearError() async throws {
        let server = try await FakeHTTPServer.start { _ in
            .init(
                status: 500,
                body: "<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>")
        }
        try await withResource(server) { server in
            try await withResource(Self.store(server, attempts: 3)) { store in
                let error = await #expect(throws: ObjectStoreError.self) { _ = try await store.head("k") }
                #expect(error?.code == .unavailable)
                #expect(server.requests.count == 3)
                let putError = await #expect(throws: ObjectStoreError.self) {
                    try await store.put("k", bytes: ByteBuffer(string: "x"))
                }
                #expect(putError?.message.contains("InternalError: We encountered an internal error.") == true)
            }
        }
    }

    @Test func requestsCarryChecksumsAndSignature() async throws {
        try await withResource(FakeHTTPServer.start(Self.fakeS3())) { server in
            try await withResource(Self.store(server)) { store in
                try await store.put("sub/key", bytes: ByteBuffer(string: "Welcome to Amazon S3."))
                let put = try #require(server.requests.first)
                #expect(put.method == "PUT")
                #expect(
                    put.header("content-md5")
                        == Data(Insecure.MD5.hash(data: Array("Welcome to Amazon S3.".utf8))).base64EncodedString())
                #expect(
                    put.header("x-amz-content-sha256")
                        == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")
                #expect(put.header("authorization")?.hasPrefix("AWS4-HMAC-SHA256 Credential=AKID/") == true)
                #expect(
                    put.header("authorization")?.contains(
                        "SignedHeaders=content-md5;content-type;host;x-amz-content-sha256;x-amz-date") == true)
                #expect(put.header("host") == "127.0.0.1:\(server.port)")
            }
        }
    }

    @Test func aWrongETagIsAnIntegrityError() async throws {
        try await withResource(
            FakeHTTPServer.start { _ in .init(headers: [("ETag", "\"0123456789abcdef0123456789abcdef\"")]) }
        ) { server in
            try await withResource(Self.store(server)) { store in
                let error = await #expect(throws: ObjectStoreError.self) {
                    try await store.put("k", bytes: ByteBuffer(string: "x"))
                }
                #expect(error?.code == .integrity)
            }
        }
    }

    @Test func kmsEncryptionHeadersGoOnUploadsAndMultipartCreationOnly() async throws {
        try await withResource(FakeHTTPServer.start(Self.fakeS3())) { server in
            try await withResource(Self.store(server, encryption: .kms(keyID: "arn:aws:kms:us-east-1:1:key/abc"))) {
                store in
                try await store.put("small", bytes: ByteBuffer(string: "x"))
                _ = try await store.put("large", body: RandomBytes(total: 11 << 20, chunkSize: 1 << 20))

                let requests = server.requests
                let single = try #require(requests.first { $0.method == "PUT" && $0.path.hasSuffix("/small") })
                #expect(single.header("x-amz-server-side-encryption") == "aws:kms")
                #expect(
                    single.header("x-amz-server-side-encryption-aws-kms-key-id") == "arn:aws:kms:us-east-1:1:key/abc")
                let create = try #require(requests.first { $0.method == "POST" && $0.query.hasPrefix("uploads") })
                #expect(create.header("x-amz-server-side-encryption") == "aws:kms")
                let parts = requests.filter { $0.query.contains("partNumber=") }
                #expect(parts.count == 3)
                #expect(parts.allSatisfy { $0.header("x-amz-server-side-encryption") == nil })
                let complete = try #require(requests.first { $0.method == "POST" && $0.query.hasPrefix("uploadId=") })
                let xml = String(decoding: complete.body, as: UTF8.self)
                #expect(xml.contains("<PartNumber>3</PartNumber>"))
            }
        }
    }

    @Test func sseS3AsksForAES256() async throws {
        try await withResource(FakeHTTPServer.start(Self.fakeS3())) { server in
            try await withResource(Self.store(server, encryption: .s3)) { store in
                try await store.put("small", bytes: ByteBuffer(string: "x"))
                #expect(server.requests.first?.header("x-amz-server-side-encryption") == "AES256")
            }
        }
    }

    @Test func aRefusedPartAbortsTheUpload() async throws {
        try await withResource(FakeHTTPServer.start(Self.fakeS3(failPart: 2))) { server in
            try await withResource(Self.store(server)) { store in
                let error = await #expect(throws: ObjectStoreError.self) {
                    _ = try await store.put("large", body: RandomBytes(total: 16 << 20, chunkSize: 1 << 20))
                }
                #expect(error?.message.contains("upload of part 2") == true)
                let abort = server.requests.filter { $0.method == "DELETE" }
                #expect(abort.count == 1)
                #expect(abort.first?.query == "uploadId=UP-1")
                #expect(!server.requests.contains { $0.method == "POST" && $0.query.hasPrefix("uploadId=") })
            }
        }
    }

    @Test func aStoreThatDiesMidUploadIsGivenUpOnWithoutALongCleanUp() async throws {
        // The upload starts, then the store answers 500 to everything: the parts are given up on as configured, the
        // abort gets a few quick tries (not another full round), the error names the part's failure, and each part
        // is sent exactly as often as allowed (a refused request, 400, only once).
        let base = Self.fakeS3()
        let server = try await FakeHTTPServer.start { request in
            if request.method == "POST" && request.query.hasPrefix("uploads") { return await base(request) }
            if request.query.contains("partNumber=2&") {
                return .init(status: 400, body: "<Error><Code>InvalidArgument</Code><Message>bad</Message></Error>")
            }
            return .init(status: 500, body: "<Error><Code>InternalError</Code><Message>dead</Message></Error>")
        }
        try await withResource(server) { server in
            try await withResource(Self.store(server, attempts: 8)) { store in
                let error = await #expect(throws: ObjectStoreError.self) {
                    _ = try await store.put("large", bytes: ByteBuffer(repeating: 1, count: 6 << 20))
                }
                #expect(error?.message.contains("upload of part") == true, "\(String(describing: error))")
                let aborts = server.requests.filter { $0.method == "DELETE" }
                #expect(aborts.count == 3)
                let partTwo = server.requests.filter { $0.query.contains("partNumber=2&") }
                #expect(partTwo.count == 1)
            }
        }
    }

    @Test func completionErrorsInsideA200AreRetried() async throws {
        let completions = CallCounter()
        let base = Self.fakeS3()
        let server = try await FakeHTTPServer.start { request in
            if request.method == "POST" && request.query.hasPrefix("uploadId=") && completions.next() == 1 {
                return .init(status: 200, body: "<Error><Code>InternalError</Code><Message>try again</Message></Error>")
            }
            return await base(request)
        }
        try await withResource(server) { server in
            try await withResource(Self.store(server)) { store in
                let info = try await store.put("large", body: RandomBytes(total: 6 << 20, chunkSize: 1 << 20))
                #expect(info.size == 6 << 20)
                #expect(server.requests.filter { $0.method == "POST" && $0.query.hasPrefix("uploadId=") }.count == 2)
            }
        }
    }

    @Test func sizeHintRaisesThePartSizeForHugeObjects() async throws {
        let configuration = S3StoreConfiguration(location: S3Location(bucket: "bucket"), partSize: 16 << 20)
        let store = try S3Store(
            configuration: configuration,
            credentials: StaticCredentialProvider(.init(accessKeyID: "a", secretAccessKey: "b")))
        try await withResource(store) { store in
            #expect(store.partSize(for: PutOptions()) == 16 << 20)
            #expect(store.partSize(for: PutOptions(sizeHint: 1 << 30)) == 16 << 20)
            let hinted = store.partSize(for: PutOptions(sizeHint: 500 << 30))
            #expect(hinted > 16 << 20)
            #expect(Int64(hinted) * 10_000 >= 500 << 30)
        }
    }
}
