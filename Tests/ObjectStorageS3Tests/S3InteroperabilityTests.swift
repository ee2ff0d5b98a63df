import DynokeeperTestSupport
import Foundation
import NIOCore
import ObjectStorage
import ObjectStorageS3
import Testing

/// dynokeeper's S3 client against SeaweedFS with SigV4 on, cross-checked with awscli.
@Suite(.tags(.integration)) struct S3InteroperabilityTests {
    static func sha256(ofFile path: String) async throws -> String {
        let result = try await ProcessRunner.check("sha256sum", [path])
        return String(result.stdoutText.prefix(64))
    }

    @Test func twoHundredMebibytesThroughMultipartBothWays() async throws {
        let server = try await SeaweedFS.shared()
        try await withResource(StoreFixture.makeS3Store(partSize: 16 << 20, concurrency: 8)) { store in
            let scratch = try TemporaryDirectory()
            defer { scratch.remove() }

            let body = RandomBytes(total: 200 << 20, chunkSize: 1 << 20)
            let stored = try await store.put("large/200MiB.bin", body: body)
            let expected = try #require(body.digest.hex)
            #expect(stored.size == 200 << 20)
            #expect(stored.etag?.hasSuffix("-13") == true, "13 parts of 16 MiB: \(stored.etag ?? "nil")")

            // Read back by dynokeeper, in parallel ranges.
            let (size, digest) = try await store.download("large/200MiB.bin").body.sizeAndSHA256()
            #expect(size == 200 << 20)
            #expect(digest == expected)

            // Read back by awscli, byte for byte.
            let file = scratch.file("by-awscli.bin")
            let key = "\(store.configuration.location.keyRoot)large/200MiB.bin"
            try await server.awsCheck(["s3", "cp", "s3://\(store.configuration.location.bucket)/\(key)", file])
            #expect(try await Self.sha256(ofFile: file) == expected)
        }
    }

    @Test func awscliReadsWhatDynokeeperWrote() async throws {
        let server = try await SeaweedFS.shared()
        try await withResource(StoreFixture.makeS3Store()) { store in
            let scratch = try TemporaryDirectory()
            defer { scratch.remove() }

            let key = "odd keys/ünïcødé + plus=equals & amp/1KiB.bin"
            var payload = ByteBuffer()
            for index in 0..<1024 { payload.writeInteger(UInt8(truncatingIfNeeded: index &* 31)) }
            try await store.put(key, bytes: payload)

            let file = scratch.file("small.bin")
            let fullKey = store.configuration.location.keyRoot + key
            try await server.awsCheck(["s3", "cp", "s3://\(store.configuration.location.bucket)/\(fullKey)", file])
            let data = try Data(contentsOf: URL(fileURLWithPath: file))
            #expect(data == Data(payload.readableBytesView))

            let listed = try await server.awsCheck([
                "s3api", "list-objects-v2", "--bucket", store.configuration.location.bucket,
                "--prefix", store.configuration.location.keyRoot, "--query", "Contents[].Key", "--output", "text",
            ])
            #expect(listed.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines) == fullKey)
        }
    }

    @Test func dynokeeperReadsWhatAwscliWrote() async throws {
        let server = try await SeaweedFS.shared()
        try await withResource(StoreFixture.makeS3Store(partSize: 5 << 20)) { store in
            let scratch = try TemporaryDirectory()
            defer { scratch.remove() }

            // 20 MiB: awscli uploads it in 8 MiB parts, so dynokeeper reads an object with a multipart ETag.
            let file = scratch.file("upload.bin")
            try await ProcessRunner.check("head", ["-c", String(20 << 20 | 777), "/dev/urandom"]).stdout
                .write(to: URL(fileURLWithPath: file))
            let expected = try await Self.sha256(ofFile: file)
            let bucket = store.configuration.location.bucket
            let root = store.configuration.location.keyRoot
            try await server.awsCheck(["s3", "cp", file, "s3://\(bucket)/\(root)from-awscli/blob.bin"])
            try await server.awsCheck(
                ["s3", "cp", "-", "s3://\(bucket)/\(root)from-awscli/tiny.txt"], input: Data("tiny\n".utf8))

            #expect(
                try await store.listAll(prefix: "from-awscli/").map(\.key) == [
                    "from-awscli/blob.bin", "from-awscli/tiny.txt",
                ])
            let info = try #require(try await store.head("from-awscli/blob.bin"))
            #expect(info.size == 20 << 20 | 777)
            let (size, digest) = try await store.download("from-awscli/blob.bin").body.sizeAndSHA256()
            #expect(size == info.size)
            #expect(digest == expected)
            #expect(String(buffer: try await store.getBytes("from-awscli/tiny.txt")) == "tiny\n")
        }
    }

    @Test func wrongSecretIsAClearAuthenticationError() async throws {
        try await withResource(StoreFixture.makeS3Store(secret: "not-the-secret")) { store in
            let error = await #expect(throws: ObjectStoreError.self) {
                try await store.put("denied", bytes: ByteBuffer(string: "x"))
            }
            #expect(error?.code == .accessDenied)
            #expect(error?.message.contains("SignatureDoesNotMatch") == true, "\(String(describing: error))")
            #expect(error?.message.contains("check the secret access key") == true)
            let listError = await #expect(throws: ObjectStoreError.self) { _ = try await store.listAll(prefix: "") }
            #expect(listError?.code == .accessDenied)
        }
    }

    @Test func failedMultipartUploadLeavesNoPendingUpload() async throws {
        let server = try await SeaweedFS.shared()
        try await withResource(StoreFixture.makeS3Store(partSize: 5 << 20, concurrency: 2)) { store in
            let body = RandomBytes(total: 40 << 20, chunkSize: 1 << 20, failAfter: 17 << 20)
            await #expect(throws: TestSupportError.self) { _ = try await store.put("aborted/object", body: body) }

            let pending = try await server.awsCheck([
                "s3api", "list-multipart-uploads", "--bucket", store.configuration.location.bucket,
                "--prefix", store.configuration.location.keyRoot, "--output", "json",
            ])
            let json =
                try JSONSerialization.jsonObject(with: pending.stdout.isEmpty ? Data("{}".utf8) : pending.stdout)
                as? [String: Any]
            let uploads = json?["Uploads"] as? [Any] ?? []
            #expect(uploads.isEmpty, "pending uploads: \(pending.stdoutText)")
            #expect(try await store.head("aborted/object") == nil)
        }
    }

    @Test func unreachableEndpointIsAClearErrorAfterRetries() async throws {
        let port = try FreePort.next()
        let configuration = S3StoreConfiguration(
            location: S3Location(bucket: "nobody-home"), endpoint: "http://127.0.0.1:\(port)",
            retry: RetryPolicy(maxAttempts: 2, baseDelay: .milliseconds(10)))
        let store = try S3Store(
            configuration: configuration,
            credentials: StaticCredentialProvider(.init(accessKeyID: "AK", secretAccessKey: "SK")))
        try await withResource(store) { store in
            let error = await #expect(throws: ObjectStoreError.self) { _ = try await store.head("x") }
            #expect(error?.code == .unavailable)
            #expect(error?.message.contains("cannot reach the store") == true)
        }
    }
}
