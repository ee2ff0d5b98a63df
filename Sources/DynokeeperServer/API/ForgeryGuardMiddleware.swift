import DynokeeperConfiguration
import Foundation
import HTTPTypes
import Hummingbird

/// Refuses what a web page could make a browser on the node send: a request that a browser marks as coming from
/// another site (`Sec-Fetch-Site`, `Origin`), a body that is not JSON (a form or `text/plain` POST needs no CORS
/// pre-flight), and, on a tokenless listener, a `Host` that is not loopback (DNS rebinding: a page of
/// `rebind.evil.example` that resolves to 127.0.0.1).
///
/// dynokeeper's clients (the CLI, peers, curl, scripts) send none of these browser headers; a bearer token, which a
/// browser never adds by itself, is the main defence, and this guard is what stands in its place on loopback.
struct ForgeryGuardMiddleware<Context: RequestContext>: RouterMiddleware {
    /// Whether the listener requires a token.
    let hasToken: Bool
    /// `https` when the listener serves TLS, else `http`: an Origin of the other scheme is another origin.
    var scheme = "http"
    /// The host names (lower case) a request may be addressed to besides IP addresses and `localhost`: this
    /// machine's name, the listener's, the ring's peers (`ring.peers`, dyn_seeds) and `server.allowed_hosts`. Only
    /// checked with a token; without one, only loopback is.
    var allowedNames: Set<String> = []

    static var unsafeMethods: Set<HTTPRequest.Method> { [.post, .put, .patch, .delete] }

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        if let site = request.headers[Self.secFetchSite]?.lowercased(), site != "same-origin", site != "none" {
            throw Self.forbidden("a browser sent this request from another site (Sec-Fetch-Site: \(site))")
        }
        let authority = request.head.authority ?? ""
        if let origin = request.headers[.origin] {
            // The page's own origin: same scheme (this listener's), same host and port.
            let lowered = origin.lowercased()
            guard lowered == "\(scheme)://\(authority.lowercased())" else {
                throw Self.forbidden("requests from web pages of \(origin) are refused")
            }
        }
        let host = Self.hostName(authority).lowercased()
        if !hasToken, !DynokeeperConfiguration.Server.isLoopback(host) {
            throw Self.forbidden(
                "this listener has no token and answers only requests addressed to 127.0.0.0/8, ::1 or localhost, not \(authority.isEmpty ? "a request without Host" : authority)"
            )
        }
        // A name that resolves here but is nobody's name for this node is a DNS rebinding.
        if hasToken, !host.isEmpty, !Self.isAddress(host), host != "localhost", !allowedNames.contains(host) {
            throw Self.forbidden(
                "requests addressed to \(host) are refused: it is not a name of this node (add it to server.allowed_hosts)"
            )
        }
        if Self.unsafeMethods.contains(request.method) {
            let mediaType = request.headers[.contentType]?.split(separator: ";").first?
                .trimmingCharacters(in: .whitespaces).lowercased()
            guard mediaType == "application/json" else {
                throw APIError(
                    status: .unsupportedMediaType, code: "unsupported_media_type",
                    message:
                        "\(request.method.rawValue) requests need Content-Type: application/json (curl --json '{}'), even without a body"
                )
            }
        }
        return try await next(request, context)
    }

    static var secFetchSite: HTTPField.Name { HTTPField.Name("Sec-Fetch-Site")! }

    static func forbidden(_ message: String) -> APIError {
        APIError(status: .forbidden, code: "forbidden", message: message)
    }

    static func isAddress(_ host: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }

    /// The host of a `Host` value: without the port, and without the brackets of an IPv6 address.
    static func hostName(_ authority: String) -> String {
        if authority.hasPrefix("["), let end = authority.firstIndex(of: "]") {
            return String(authority[authority.index(after: authority.startIndex)..<end])
        }
        return String(authority.split(separator: ":", maxSplits: 1).first ?? "")
    }
}
