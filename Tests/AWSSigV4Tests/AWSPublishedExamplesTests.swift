import AWSSigV4
import Foundation
import Testing

/// The examples AWS publishes for Signature Version 4: the S3 header-signing examples
/// ("Examples: Signature Calculations", sig-v4-header-based-auth) and the generic test suite.
@Suite struct AWSPublishedExamplesTests {
    static let s3Credentials = AWSCredentials(
        accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    static let s3Signer = SigV4Signer(credentials: s3Credentials, region: "us-east-1", service: "s3")
    static let exampleDate = Date(timeIntervalSince1970: 1_369_353_600)  // 2013-05-24T00:00:00Z

    @Test func amzDateIsUTCBasicFormat() {
        #expect(SigV4Signer.amzDate(Self.exampleDate) == "20130524T000000Z")
        #expect(SigV4Signer.amzDate(Date(timeIntervalSince1970: 1_440_938_160)) == "20150830T123600Z")
        #expect(SigV4Signer.amzDate(Date(timeIntervalSince1970: 951_782_400)) == "20000229T000000Z")
    }

    @Test func s3GetObjectWithRange() {
        let request = SigV4Request(
            method: "GET", path: "/test.txt",
            headers: [
                ("Host", "examplebucket.s3.amazonaws.com"),
                ("Range", "bytes=0-9"),
                ("x-amz-content-sha256", SigV4Signer.emptyPayloadHash),
                ("x-amz-date", "20130524T000000Z"),
            ])
        let signed = Self.s3Signer.sign(request, payloadHash: SigV4Signer.emptyPayloadHash, date: Self.exampleDate)
        #expect(
            signed.canonicalRequest == """
                GET
                /test.txt

                host:examplebucket.s3.amazonaws.com
                range:bytes=0-9
                x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
                x-amz-date:20130524T000000Z

                host;range;x-amz-content-sha256;x-amz-date
                e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
                """)
        #expect(signed.signature == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        #expect(
            signed.authorization
                == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        )
    }

    @Test func s3PutObjectWithSpecialCharactersInKey() {
        let payloadHash = "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"  // "Welcome to Amazon S3."
        let request = SigV4Request(
            method: "PUT", path: "/test$file.text",
            headers: [
                ("Host", "examplebucket.s3.amazonaws.com"),
                ("Date", "Fri, 24 May 2013 00:00:00 GMT"),
                ("x-amz-date", "20130524T000000Z"),
                ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
                ("x-amz-content-sha256", payloadHash),
            ])
        let signed = Self.s3Signer.sign(request, payloadHash: payloadHash, date: Self.exampleDate)
        #expect(signed.canonicalRequest.split(separator: "\n").dropFirst().first == "/test%24file.text")
        #expect(signed.signature == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")
    }

    @Test func s3GetBucketLifecycleWithValuelessParameter() {
        let request = SigV4Request(
            method: "GET", path: "/", query: [("lifecycle", "")],
            headers: [
                ("Host", "examplebucket.s3.amazonaws.com"),
                ("x-amz-date", "20130524T000000Z"),
                ("x-amz-content-sha256", SigV4Signer.emptyPayloadHash),
            ])
        let signed = Self.s3Signer.sign(request, payloadHash: SigV4Signer.emptyPayloadHash, date: Self.exampleDate)
        #expect(signed.signature == "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543")
    }

    @Test func s3ListObjectsWithSortedQuery() {
        let request = SigV4Request(
            method: "GET", path: "/", query: [("prefix", "J"), ("max-keys", "2")],
            headers: [
                ("Host", "examplebucket.s3.amazonaws.com"),
                ("x-amz-date", "20130524T000000Z"),
                ("x-amz-content-sha256", SigV4Signer.emptyPayloadHash),
            ])
        let signed = Self.s3Signer.sign(request, payloadHash: SigV4Signer.emptyPayloadHash, date: Self.exampleDate)
        #expect(signed.canonicalRequest.split(separator: "\n")[2] == "max-keys=2&prefix=J")
        #expect(signed.signature == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")
    }

    // The generic test suite (aws-sig-v4-test-suite): service "service", 2015-08-30T12:36:00Z.
    static let suiteSigner = SigV4Signer(
        credentials: AWSCredentials(
            accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
        region: "us-east-1", service: "service")
    static let suiteDate = Date(timeIntervalSince1970: 1_440_938_160)

    @Test func suiteGetVanilla() {
        let request = SigV4Request(method: "GET", path: "/", headers: [("Host", "example.amazonaws.com")])
        let signed = Self.suiteSigner.sign(request, payloadHash: SigV4Signer.emptyPayloadHash, date: Self.suiteDate)
        #expect(signed.headers.first { $0.name == "x-amz-date" }?.value == "20150830T123600Z")
        #expect(signed.signature == "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
    }

    @Test func suitePostVanilla() {
        let request = SigV4Request(method: "POST", path: "/", headers: [("Host", "example.amazonaws.com")])
        let signed = Self.suiteSigner.sign(request, payloadHash: SigV4Signer.emptyPayloadHash, date: Self.suiteDate)
        #expect(signed.signature == "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b")
    }

    @Test func sessionTokenIsAddedAndSigned() {
        var credentials = Self.s3Credentials
        credentials.sessionToken = "token/with+chars="
        let signer = SigV4Signer(credentials: credentials, region: "eu-west-1")
        let request = SigV4Request(method: "GET", path: "/k", headers: [("host", "b.s3.amazonaws.com")])
        let signed = signer.sign(request, payloadHash: SigV4Signer.unsignedPayload, date: Self.exampleDate)
        #expect(signed.headers.contains { $0.name == "x-amz-security-token" && $0.value == "token/with+chars=" })
        #expect(signed.authorization.contains("SignedHeaders=host;x-amz-date;x-amz-security-token,"))
        #expect(signed.canonicalRequest.hasSuffix("\nUNSIGNED-PAYLOAD"))
    }

    @Test func credentialsNeverPrintTheSecret() {
        var credentials = Self.s3Credentials
        credentials.sessionToken = "SECRET-TOKEN"
        let text = "\(credentials)"
        #expect(!text.contains(credentials.secretAccessKey))
        #expect(!text.contains("SECRET-TOKEN"))
        #expect(text.contains("AKIA…MPLE"))
    }

    @Test func encodingKeepsOnlyUnreservedCharacters() {
        #expect(SigV4Encoding.encode("a b/c~d_e-f.g+h=é") == "a%20b%2Fc~d_e-f.g%2Bh%3D%C3%A9")
        #expect(SigV4Encoding.encode("dir/sub dir/x", keepSlash: true) == "dir/sub%20dir/x")
    }
}
