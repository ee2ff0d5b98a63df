import NIOCore
import ObjectStorage
import Testing

@testable import ObjectStorageS3

@Suite struct S3EndpointTests {
    @Test func awsUsesVirtualHostedStyle() throws {
        let endpoint = try S3Endpoint(endpoint: nil, region: "eu-west-1", bucket: "my-backups", pathStyle: nil)
        #expect(endpoint.hostHeader == "my-backups.s3.eu-west-1.amazonaws.com")
        #expect(endpoint.path(key: "a b/c") == "/a b/c")
        #expect(
            endpoint.url(path: endpoint.path(key: "a b/c"), query: [("x", "1 2")])
                == "https://my-backups.s3.eu-west-1.amazonaws.com/a%20b/c?x=1%202")
    }

    @Test func bucketsWithDotsUsePathStyleOnAWS() throws {
        let endpoint = try S3Endpoint(endpoint: nil, region: "us-east-1", bucket: "backups.example.com", pathStyle: nil)
        #expect(endpoint.hostHeader == "s3.us-east-1.amazonaws.com")
        #expect(endpoint.path(key: "k") == "/backups.example.com/k")
    }

    @Test func customEndpointsDefaultToPathStyle() throws {
        let endpoint = try S3Endpoint(
            endpoint: "http://127.0.0.1:8333", region: "us-east-1", bucket: "b-1", pathStyle: nil)
        #expect(endpoint.hostHeader == "127.0.0.1:8333")
        #expect(endpoint.path(key: nil) == "/b-1")
        #expect(endpoint.path(key: "x") == "/b-1/x")
        let virtual = try S3Endpoint(
            endpoint: "https://minio.internal:443/", region: "us-east-1", bucket: "b-1", pathStyle: false)
        #expect(virtual.hostHeader == "b-1.minio.internal")
        #expect(virtual.path(key: "x") == "/x")
    }

    @Test(arguments: ["ftp://host", "127.0.0.1:8333", "http://host:99999", "http://host/path", "http://"])
    func badEndpointsAreRefused(endpoint: String) {
        #expect(throws: S3ConfigurationError.self) {
            _ = try S3Endpoint(endpoint: endpoint, region: "us-east-1", bucket: "bucket", pathStyle: nil)
        }
    }

    @Test func locationsParse() throws {
        let location = try S3Location(url: "s3://my-bucket/some/prefix/")
        #expect(location.bucket == "my-bucket")
        #expect(location.keyRoot == "some/prefix/")
        #expect(location.description == "s3://my-bucket/some/prefix")
        #expect(location.fullKey("x") == "some/prefix/x")
        #expect(location.storeKey("some/prefix/x") == "x")
        #expect(location.storeKey("other/x") == nil)
        #expect(try S3Location(url: "s3://bucket").keyRoot == "")
        #expect(try S3Location(url: "s3://bucket//a//b//").keyRoot == "a/b/")
        for bad in ["s3://", "s3://ab", "s3://Upper", "http://bucket", "s3://-bucket"] {
            #expect(throws: S3ConfigurationError.self, "\(bad)") { _ = try S3Location(url: bad) }
        }
    }

    /// Dynomite-manager joins its base_dir and the key with `/` as given: `/backup/` makes `/backup//dc/…`, which
    /// AWS S3 keeps as it is and some S3-compatible stores collapse to `backup/dc/…`.
    @Test func literalKeyRootsAreKeptAndReadBackCollapsedToo() {
        let location = S3Location(bucket: "bucket", literalKeyRoot: "/backup//")
        #expect(location.fullKey("dc1/rack1/7/1700000000000") == "/backup//dc1/rack1/7/1700000000000")
        #expect(location.description + "/dc1" == "s3://bucket//backup//dc1")
        #expect(location.storeKey("/backup//dc1/x") == "dc1/x")
        #expect(location.storeKey("backup/dc1/x") == "dc1/x")
        #expect(location.storeKey("/backup/dc1/x") == nil)
        #expect(location.storeKey("other/dc1/x") == nil)
        let root = S3Location(bucket: "bucket", literalKeyRoot: "/")
        #expect(root.fullKey("dc1/x") == "/dc1/x")
        #expect(root.storeKey("/dc1/x") == "dc1/x" && root.storeKey("dc1/x") == "dc1/x")
    }

    @Test func errorDocumentsAreRead() {
        let body = NIOCore.ByteBuffer(
            string: """
                <?xml version="1.0" encoding="UTF-8"?>
                <Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>a&amp;b</Key></Error>
                """)
        let document = S3ErrorMapping.ErrorDocument(body)
        #expect(document?.code == "NoSuchKey")
        #expect(document?.message == "The specified key does not exist.")
        #expect(xmlEscape("a&b<c>\"'") == "a&amp;b&lt;c&gt;&quot;&apos;")
    }

    /// Expired temporary credentials have a code of their own (the store fetches new ones on it), whatever the
    /// message says; other refusals do not.
    @Test func expiredTokensHaveTheirOwnCode() {
        let request = S3Request(method: .GET, key: "k", action: "download k")
        func code(_ s3Code: String, message: String) -> ObjectStoreError.Code {
            let body = NIOCore.ByteBuffer(string: "<Error><Code>\(s3Code)</Code><Message>\(message)</Message></Error>")
            return S3ErrorMapping.error(status: .forbidden, body: body, request: request, location: "s3://b").code
        }
        #expect(code("ExpiredToken", message: "The provided token has expired.") == .expiredCredentials)
        #expect(code("TokenRefreshRequired", message: "The provided token must be refreshed.") == .expiredCredentials)
        #expect(code("AccessDenied", message: "Policy for expired users") == .accessDenied)
    }
}
