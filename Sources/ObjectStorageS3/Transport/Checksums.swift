import AWSSigV4
import Crypto
import Foundation
import NIOCore

/// The digests S3 checks on what it receives.
struct PayloadDigests: Sendable {
    /// Hex SHA-256, for `x-amz-content-sha256` (S3 refuses a body that does not match it).
    var sha256: String
    /// Base64 MD5, for `Content-MD5` (S3 refuses a body that does not match it).
    var md5Base64: String
    /// Hex MD5: the ETag S3 gives a single-part object or a part stored without KMS.
    var md5Hex: String
    /// The raw MD5, to compute a multipart ETag.
    var md5: [UInt8]

    init(_ buffer: ByteBuffer) {
        let (sha, md5) = buffer.withUnsafeReadableBytes { bytes in
            (SHA256.hash(data: bytes), Insecure.MD5.hash(data: bytes))
        }
        self.sha256 = SigV4Signer.hex(sha)
        self.md5 = Array(md5)
        self.md5Hex = SigV4Signer.hex(md5)
        self.md5Base64 = Self.base64(Array(md5))
    }

    /// The hex SHA-256 alone, for bodies that need no MD5.
    static func sha256(_ buffer: ByteBuffer) -> String {
        SigV4Signer.hex(buffer.withUnsafeReadableBytes { SHA256.hash(data: $0) })
    }

    /// The ETag S3 computes for a multipart object: the MD5 of the parts' MD5s, a dash, the number of parts.
    static func multipartETag(partMD5s: [[UInt8]]) -> String {
        SigV4Signer.hex(Insecure.MD5.hash(data: partMD5s.flatMap { $0 })) + "-\(partMD5s.count)"
    }

    static func base64(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
    }
}
