import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import ObjectStorage

/// Turns S3 error responses and transport failures into ``ObjectStoreError``s that say what happened and
/// what to check, and decides which are worth a retry.
enum S3ErrorMapping {
    /// The `<Error>` document S3 returns with a failed call.
    struct ErrorDocument {
        var code: String
        var message: String

        init?(_ body: ByteBuffer) {
            guard body.readableBytes > 0, let tree = try? XMLTree.parse(Data(body.readableBytesView)),
                tree.name == "Error"
            else { return nil }
            code = tree.value("Code") ?? "Unknown"
            message = tree.value("Message") ?? ""
        }
    }

    static func error(
        status: HTTPResponseStatus, body: ByteBuffer, request: S3Request, location: String
    ) -> ObjectStoreError {
        let document = ErrorDocument(body)
        let code = document?.code ?? "HTTP \(status.code)"
        let detail =
            document.map { $0.message.isEmpty ? $0.code : "\($0.code): \($0.message)" }
            ?? "HTTP \(status.code) \(status.reasonPhrase)"
        let what = "\(request.action) at \(location) failed"
        switch (status.code, code) {
        case (_, "SignatureDoesNotMatch"):
            return ObjectStoreError(
                .accessDenied, "\(what): S3 refused the signature (\(detail)); check the secret access key")
        case (_, "InvalidAccessKeyId"):
            return ObjectStoreError(.accessDenied, "\(what): S3 does not know the access key id (\(detail))")
        case (_, "ExpiredToken"), (_, "TokenRefreshRequired"):
            return ObjectStoreError(.expiredCredentials, "\(what): the session token has expired (\(detail))")
        case (403, _):
            return ObjectStoreError(
                .accessDenied, "\(what): access denied (\(detail)); check the credentials' permissions on the bucket")
        case (404, "NoSuchBucket"):
            return ObjectStoreError(.notFound, "\(what): the bucket does not exist (\(detail))")
        case (404, _):
            return ObjectStoreError(.notFound, "\(what): not found (\(detail))")
        case (_, "BadDigest"), (_, "InvalidDigest"), (_, "XAmzContentSHA256Mismatch"):
            // The bytes were damaged on the way; sending them again is the fix.
            return ObjectStoreError(.unavailable, "\(what): S3 received damaged bytes (\(detail))")
        case (_, "RequestTimeout"):
            return ObjectStoreError(.unavailable, "\(what): \(detail)")
        case (_, "RequestTimeTooSkewed"):
            return ObjectStoreError(
                .invalidRequest, "\(what): this machine's clock is too far from S3's (\(detail)); fix the time (NTP)")
        case (412, _):
            return ObjectStoreError(.integrity, "\(what): the object changed while it was being read (\(detail))")
        case (416, _):
            return ObjectStoreError(.invalidRequest, "\(what): range not satisfiable (\(detail))")
        case (429, _), (503, "SlowDown"), (_, "SlowDown"), (_, "Throttling"), (_, "TooManyRequests"):
            return ObjectStoreError(.throttled, "\(what): S3 asks to slow down (\(detail))")
        case (500...599, _):
            return ObjectStoreError(.unavailable, "\(what): server error (\(detail))")
        default:
            return ObjectStoreError(.invalidRequest, "\(what): \(detail)")
        }
    }

    /// A failure before any response: refused connection, timeout, reset…
    static func transportError(_ error: any Error, request: S3Request, location: String) -> any Error {
        if error is CancellationError { return error }
        if let error = error as? HTTPClientError, error == .cancelled { return CancellationError() }
        if let error = error as? ObjectStoreError { return error }
        // NIO's own text repeats itself ("read(…): Connection reset by peer) (errno: 104)").
        let reason = (error as? IOError).map { String(cString: strerror($0.errnoCode)) } ?? "\(error)"
        return ObjectStoreError(
            .unavailable, "\(request.action) at \(location) failed: cannot reach the store (\(reason))")
    }
}
