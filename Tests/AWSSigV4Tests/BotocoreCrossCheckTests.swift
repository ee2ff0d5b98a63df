import AWSSigV4
import DynokeeperTestSupport
import Foundation
import Testing

/// Signs generated requests with dynokeeper's signer and with botocore's `S3SigV4Auth` (an independent
/// implementation, through python3) and compares canonical requests and signatures.
@Suite(.tags(.integration)) struct BotocoreCrossCheckTests {
    struct Case: Codable {
        var method: String
        var path: String
        var query: [[String]]
        var headers: [[String]]
        var payloadHash: String
        var amzDate: String
        var accessKey: String
        var secretKey: String
        var sessionToken: String?
        var region: String
    }

    struct Answer: Codable {
        var canonicalRequest: String
        var signature: String
    }

    /// botocore's S3 signer; the path is encoded by Python's `quote`, independently of ours.
    static let script = #"""
        import json, sys
        from urllib.parse import quote
        from botocore.auth import S3SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials
        out = []
        for case in json.load(sys.stdin):
            creds = Credentials(case["accessKey"], case["secretKey"], case.get("sessionToken"))
            auth = S3SigV4Auth(creds, "s3", case["region"])
            host = [v for k, v in case["headers"] if k.lower() == "host"][0]
            url = "https://" + host + quote(case["path"], safe="/~")
            req = AWSRequest(method=case["method"], url=url, params=case["query"] or None)
            for name, value in case["headers"]:
                if name.lower() != "host":
                    req.headers.add_header(name, value)
            req.headers["X-Amz-Content-SHA256"] = case["payloadHash"]
            req.context["timestamp"] = case["amzDate"]
            req.headers["X-Amz-Date"] = case["amzDate"]
            if case.get("sessionToken"):
                req.headers["X-Amz-Security-Token"] = case["sessionToken"]
            cr = auth.canonical_request(req)
            sts = auth.string_to_sign(req, cr)
            out.append({"canonicalRequest": cr, "signature": auth.signature(sts, req)})
        json.dump(out, sys.stdout)
        """#

    static func generateCases(count: Int) -> [Case] {
        var generator = SystemRandomNumberGenerator()
        let keyAlphabet = Array("abcXYZ019-_.~ !$&'()*+,;=:@%é漢/")
        let valueAlphabet = Array("abcXYZ019-_.~ /+=&?%é")
        func word(_ alphabet: [Character], _ range: ClosedRange<Int>) -> String {
            String(
                (0..<Int.random(in: range, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! })
        }
        let methods = ["GET", "PUT", "POST", "DELETE", "HEAD"]
        return (0..<count).map { index in
            var query: [[String]] = []
            for _ in 0..<Int.random(in: 0...4, using: &generator) {
                query.append([
                    word(valueAlphabet, 1...8), Bool.random(using: &generator) ? "" : word(valueAlphabet, 1...12),
                ])
            }
            var headers: [[String]] = [
                ["Host", index % 2 == 0 ? "bucket.s3.eu-west-1.amazonaws.com" : "127.0.0.1:8333"]
            ]
            if Bool.random(using: &generator) { headers.append(["Range", "bytes=0-\(Int.random(in: 1...1_000_000))"]) }
            if Bool.random(using: &generator) { headers.append(["Content-Type", "application/octet-stream"]) }
            if Bool.random(using: &generator) { headers.append(["x-amz-meta-note", "  spaced   value  here "]) }
            if Bool.random(using: &generator) { headers.append(["Content-MD5", "1B2M2Y8AsgTpgAmY7PhCfg=="]) }
            let seconds = Int.random(in: 1_500_000_000...1_900_000_000, using: &generator)
            return Case(
                method: methods[index % methods.count],
                path: "/" + word(keyAlphabet, 1...40),
                query: query,
                headers: headers,
                payloadHash: index % 3 == 0 ? SigV4Signer.unsignedPayload : SigV4Signer.emptyPayloadHash,
                amzDate: SigV4Signer.amzDate(Date(timeIntervalSince1970: TimeInterval(seconds))),
                accessKey: "AKID\(index)",
                secretKey: word(valueAlphabet, 20...40),
                sessionToken: index % 4 == 0 ? "session-token-\(index)" : nil,
                region: ["us-east-1", "eu-west-1", "ap-southeast-2"][index % 3]
            )
        }
    }

    @Test func signaturesMatchBotocore() async throws {
        let cases = Self.generateCases(count: 300)
        let result = try await ProcessRunner.check(
            "python3", ["-c", Self.script], input: try JSONEncoder().encode(cases))
        let answers = try JSONDecoder().decode([Answer].self, from: result.stdout)
        #expect(answers.count == cases.count)
        for (testCase, answer) in zip(cases, answers) {
            var credentials = AWSCredentials(accessKeyID: testCase.accessKey, secretAccessKey: testCase.secretKey)
            credentials.sessionToken = testCase.sessionToken
            let signer = SigV4Signer(credentials: credentials, region: testCase.region)
            var headers = testCase.headers.map { (name: $0[0], value: $0[1]) }
            headers.append(("x-amz-content-sha256", testCase.payloadHash))
            let request = SigV4Request(
                method: testCase.method, path: testCase.path,
                query: testCase.query.map { (name: $0[0], value: $0[1]) }, headers: headers)
            let date = Date(timeIntervalSince1970: 0)  // unused: x-amz-date comes from the header below
            var dated = request
            dated.headers.append(("x-amz-date", testCase.amzDate))
            let signed = signer.sign(dated, payloadHash: testCase.payloadHash, date: date)
            #expect(signed.canonicalRequest == answer.canonicalRequest, "path \(testCase.path) query \(testCase.query)")
            #expect(signed.signature == answer.signature)
        }
    }
}
