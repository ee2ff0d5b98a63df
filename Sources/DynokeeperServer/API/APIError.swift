import DynokeeperEngine
import Foundation
import Hummingbird
import NIOCore

/// An API error, sent as `{"error": {"code": …, "message": …}}` with its status.
struct APIError: HTTPResponseError {
    var status: HTTPResponse.Status
    var code: String
    var message: String

    static func badRequest(_ message: String) -> APIError {
        APIError(DynokeeperError(.invalidRequest, message))
    }

    static func notFound(_ message: String) -> APIError {
        APIError(DynokeeperError(.notFound, message))
    }

    /// The one place where error codes become HTTP statuses.
    init(_ error: DynokeeperError) {
        let status: HTTPResponse.Status =
            switch error.code {
            case .invalidRequest: .badRequest
            case .restoresDisabled: .forbidden
            case .notFound, .noUnfinishedRestore: .notFound
            case .busy, .jobRunning, .unfinishedRestore, .shuttingDown: .conflict
            case .redis, .storage, .peer: .badGateway
            case .cancelled: .serviceUnavailable
            // The node's configuration cannot serve the request (such as a restore without redis.conf): not a
            // server fault worth retrying, and not a refusal of the caller either.
            case .invalidConfiguration: .unprocessableContent
            case .snapshot, .failed: .internalServerError
            }
        self.init(status: status, code: error.code.rawValue, message: error.message)
    }

    init(status: HTTPResponse.Status, code: String, message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        try JSON.response(ErrorBody(code: code, message: message), status: status)
    }
}

/// JSON bodies, with the API's encoding (snake_case keys, ISO 8601 dates).
enum JSON {
    static func response(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        var buffer = ByteBuffer(bytes: try APIJSON.encoder.encode(value))
        buffer.writeString("\n")
        return Response(
            status: status, headers: [.contentType: "application/json", .contentLength: String(buffer.readableBytes)],
            body: .init(byteBuffer: buffer))
    }
}

/// Turns every error into the JSON error shape: HTTP errors keep their status, dynokeeper's errors take the
/// status of their code.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            throw error
        } catch let error as HTTPError {
            let code = error.status == .notFound ? "not_found" : "http_\(error.status.code)"
            throw APIError(status: error.status, code: code, message: error.body ?? error.status.reasonPhrase)
        } catch is NIOTooManyBytesError {
            throw APIError(
                status: .contentTooLarge, code: DynokeeperError.Code.invalidRequest.rawValue,
                message: "the body is larger than \(RequestBody.limit >> 10) KiB")
        } catch {
            let classified = DynokeeperError(error)
            guard classified.code == .failed else { throw APIError(classified) }
            // An error nobody classified may carry internals (paths, library messages): logged, not sent.
            context.logger.error("request \(request.method) \(request.uri.path) failed: \(error)")
            throw APIError(
                status: .internalServerError, code: classified.code.rawValue,
                message: "internal error; the daemon's log says what happened")
        }
    }
}
