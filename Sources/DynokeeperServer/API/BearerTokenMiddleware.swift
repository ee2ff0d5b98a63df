import Hummingbird

/// Requires `Authorization: Bearer <token>` on every request but `/health`, compared in constant time.
struct BearerTokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: String

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        if request.uri.path == "/health" { return try await next(request, context) }
        // The scheme is case-insensitive (RFC 9110); the token is compared whole.
        guard let header = request.headers[.authorization], let space = header.firstIndex(of: " "),
            header[..<space].lowercased() == "bearer",
            Self.constantTimeEquals(Array(header[header.index(after: space)...].utf8), Array(token.utf8))
        else {
            throw APIError(
                status: .unauthorized, code: "unauthorized",
                message: "this endpoint needs Authorization: Bearer <server.token>")
        }
        return try await next(request, context)
    }

    /// Compares without stopping at the first difference, so the time taken says nothing about the token.
    static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        // Whole-width: a length difference of 256 must not vanish in a byte.
        var difference = a.count ^ b.count
        for index in 0..<max(a.count, b.count) {
            difference |= Int((index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0))
        }
        return difference == 0
    }
}
