import Foundation
import Hummingbird

/// An API error, sent as `{"error": {"code": …, "message": …}}` with its status.
struct APIError: HTTPResponseError {
    var status: HTTPResponse.Status
    var code: String
    var message: String

    static func badRequest(_ message: String) -> APIError { APIError(status: .badRequest, code: "invalid_request", message: message) }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        try JSON.response(["error": ["code": code, "message": message]], status: status)
    }
}

/// JSON bodies, with dynokeeper's encoding (snake_case keys, ISO 8601 dates).
enum JSON {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    static func response(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        var buffer = ByteBuffer(bytes: try encoder.encode(value))
        buffer.writeString("\n")
        return Response(
            status: status, headers: [.contentType: "application/json", .contentLength: String(buffer.readableBytes)],
            body: .init(byteBuffer: buffer))
    }

    /// A response from a JSON object built of dictionaries, arrays, strings, numbers and booleans.
    static func response(object: Any, status: HTTPResponse.Status = .ok) throws -> Response {
        var buffer = ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
        buffer.writeString("\n")
        return Response(
            status: status, headers: [.contentType: "application/json", .contentLength: String(buffer.readableBytes)],
            body: .init(byteBuffer: buffer))
    }
}

/// Turns every error into the JSON error shape: HTTP errors keep their status, others are 500s.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            throw error
        } catch let error as HTTPError {
            let code = error.status == .notFound ? "not_found" : "http_\(error.status.code)"
            throw APIError(status: error.status, code: code, message: error.body ?? error.status.reasonPhrase)
        } catch {
            throw APIError(status: .internalServerError, code: "internal_error", message: "\(error)")
        }
    }
}
