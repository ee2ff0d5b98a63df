import Crypto

package import struct Foundation.Date

/// Signs requests with AWS Signature Version 4 in the `Authorization` header.
///
/// It depends on nothing but hashing, so that it can be checked against AWS's published examples and
/// against other signers without any HTTP client.
package struct SigV4Signer: Sendable {
    /// The SHA-256 of an empty payload, in hexadecimal.
    package static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    /// The payload hash to use when the payload is not signed.
    package static let unsignedPayload = "UNSIGNED-PAYLOAD"

    package var credentials: AWSCredentials
    package var region: String
    package var service: String
    /// S3 signs the path as it is sent (encoded once, no dot-segment removal); other services encode it
    /// a second time and normalise it.
    package var isS3: Bool

    /// - Parameters:
    ///   - credentials: The credentials that sign.
    ///   - region: The region, such as `us-east-1`.
    ///   - service: The service name, `s3` for S3.
    package init(credentials: AWSCredentials, region: String, service: String = "s3") {
        self.credentials = credentials
        self.region = region
        self.service = service
        self.isS3 = service == "s3"
    }

    /// The result of signing: the headers to add to the request, and the intermediate strings for diagnostics.
    package struct Signature: Sendable {
        /// Headers to add to the request: `x-amz-date`, `x-amz-security-token` when needed, `authorization`.
        package var headers: [(name: String, value: String)]
        package var canonicalRequest: String
        package var stringToSign: String
        package var signature: String
        package var authorization: String
    }

    /// Signs a request.
    /// - Parameters:
    ///   - request: The request; an `x-amz-date` header in it wins over `date`.
    ///   - payloadHash: The hexadecimal SHA-256 of the body, or ``unsignedPayload``.
    ///   - date: The signing time.
    package func sign(_ request: SigV4Request, payloadHash: String, date: Date) -> Signature {
        var request = request
        var added: [(name: String, value: String)] = []
        let amzDate: String
        if let given = request.header("x-amz-date") {
            amzDate = given
        } else {
            amzDate = Self.amzDate(date)
            added.append(("x-amz-date", amzDate))
        }
        if let token = credentials.sessionToken, request.header("x-amz-security-token") == nil {
            added.append(("x-amz-security-token", token))
        }
        request.headers += added

        let (canonicalHeaders, signedHeaders) = Self.canonicalHeaders(request.headers)
        let canonicalRequest = [
            request.method.uppercased(),
            canonicalPath(request.path),
            SigV4Encoding.canonicalQuery(request.query),
            canonicalHeaders,
            signedHeaders,
            payloadHash,
        ].joined(separator: "\n")

        let day = String(amzDate.prefix(8))
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = [
            "AWS4-HMAC-SHA256",
            amzDate,
            scope,
            Self.hex(SHA256.hash(data: Array(canonicalRequest.utf8))),
        ].joined(separator: "\n")

        let signature = Self.hex(
            HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: signingKey(day: day))
        )
        let authorization =
            "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)"
        added.append(("authorization", authorization))
        return Signature(
            headers: added,
            canonicalRequest: canonicalRequest,
            stringToSign: stringToSign,
            signature: signature,
            authorization: authorization
        )
    }

    /// The key derived from the secret for one day, region and service.
    func signingKey(day: String) -> SymmetricKey {
        var key = SymmetricKey(data: Array("AWS4\(credentials.secretAccessKey)".utf8))
        for part in [day, region, service, "aws4_request"] {
            key = SymmetricKey(data: HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key))
        }
        return key
    }

    func canonicalPath(_ path: String) -> String {
        let path = path.isEmpty ? "/" : path
        if isS3 {
            return SigV4Encoding.encode(path, keepSlash: true)
        }
        // Other services: remove dot segments and empty segments, then encode each segment twice.
        var segments: [Substring] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch segment {
            case ".": continue
            case "..": _ = segments.popLast()
            default: segments.append(segment)
            }
        }
        var normalized = "/" + segments.joined(separator: "/")
        if path.hasSuffix("/") && normalized != "/" { normalized += "/" }
        let once = SigV4Encoding.encode(normalized, keepSlash: true)
        return SigV4Encoding.encode(once, keepSlash: true)
    }

    /// Lower-cased names, values trimmed with inner runs of spaces collapsed, repeated headers joined by commas.
    static func canonicalHeaders(_ headers: [(name: String, value: String)]) -> (canonical: String, signed: String) {
        var byName: [String: [String]] = [:]
        for (name, value) in headers {
            let trimmed = value.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
            byName[name.lowercased(), default: []].append(trimmed)
        }
        let names = byName.keys.sorted()
        let canonical = names.map { "\($0):\(byName[$0]!.joined(separator: ","))\n" }.joined()
        return (canonical, names.joined(separator: ";"))
    }

    /// `YYYYMMDDTHHMMSSZ` in UTC.
    package static func amzDate(_ date: Date) -> String {
        let seconds = Int(date.timeIntervalSince1970.rounded(.down))
        let (days, secondsOfDay) = seconds.quotientAndRemainder(dividingBy: 86_400)
        let (year, month, day) = civilDate(daysSinceEpoch: days)
        func pad(_ value: Int, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return pad(year, 4) + pad(month, 2) + pad(day, 2) + "T" + pad(secondsOfDay / 3600, 2)
            + pad(secondsOfDay % 3600 / 60, 2) + pad(secondsOfDay % 60, 2) + "Z"
    }

    /// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm); avoids
    /// `DateFormatter`, which is slow and not safe to share.
    static func civilDate(daysSinceEpoch: Int) -> (year: Int, month: Int, day: Int) {
        let z = daysSinceEpoch + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// Lower-case hexadecimal of a digest or MAC.
    package static func hex<D: Sequence>(_ bytes: D) -> String where D.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
