import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// A loopback HTTP server whose answers a test scripts: it stands in for the EC2 metadata service, the
/// ECS credentials endpoint, or an S3 that fails on purpose, and records every request it receives.
package final class FakeHTTPServer: TestResource {
    package struct Request: Sendable {
        package var method: String
        package var uri: String
        package var headers: [(name: String, value: String)]
        package var body: [UInt8]

        /// The path without the query.
        package var path: String { String(uri.prefix { $0 != "?" }) }
        /// The query string, without `?`.
        package var query: String { uri.contains("?") ? String(uri.drop { $0 != "?" }.dropFirst()) : "" }

        package func header(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }
    }

    package struct Response: Sendable {
        package var status: Int
        package var headers: [(name: String, value: String)]
        package var body: [UInt8]

        package init(status: Int = 200, headers: [(name: String, value: String)] = [], body: String = "") {
            self.status = status
            self.headers = headers
            self.body = Array(body.utf8)
        }
    }

    package let port: Int
    private let channel: any Channel
    private let log: NIOLockedValueBox<[Request]>

    /// The address to give clients.
    package var url: String { "http://127.0.0.1:\(port)" }

    /// Every request received so far, in order.
    package var requests: [Request] { log.withLockedValue { $0 } }

    private init(port: Int, channel: any Channel, log: NIOLockedValueBox<[Request]>) {
        self.port = port
        self.channel = channel
        self.log = log
    }

    /// Starts a server on a free loopback port.
    /// - Parameter handler: Answers each request.
    package static func start(_ handler: @escaping @Sendable (Request) async -> Response) async throws -> FakeHTTPServer
    {
        let log = NIOLockedValueBox<[Request]>([])
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(Handler(handler: handler, log: log))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        guard let port = channel.localAddress?.port else { throw TestSupportError("fake server has no port") }
        return FakeHTTPServer(port: port, channel: channel, log: log)
    }

    /// Stops listening.
    package func stop() async {
        try? await channel.close()
    }

    package func close() async { await stop() }

    private final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let handler: @Sendable (Request) async -> Response
        let log: NIOLockedValueBox<[Request]>
        var head: HTTPRequestHead?
        var body: [UInt8] = []

        init(handler: @escaping @Sendable (Request) async -> Response, log: NIOLockedValueBox<[Request]>) {
            self.handler = handler
            self.log = log
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                body = []
            case .body(let buffer):
                body += buffer.readableBytesView
            case .end:
                guard let head else { return }
                let request = Request(
                    method: head.method.rawValue, uri: head.uri, headers: head.headers.map { ($0.name, $0.value) },
                    body: body)
                log.withLockedValue { $0.append(request) }
                let loop = context.eventLoop
                let bound = NIOLoopBound(context, eventLoop: loop)
                let keepAlive = head.isKeepAlive
                let handler = handler
                let promise = loop.makePromise(of: Response.self)
                promise.completeWithTask { await handler(request) }
                promise.futureResult.whenSuccess { response in
                    let context = bound.value
                    var headers = HTTPHeaders(response.headers.map { ($0.name, $0.value) })
                    if request.method != "HEAD" || !headers.contains(name: "content-length") {
                        headers.replaceOrAdd(name: "content-length", value: String(response.body.count))
                    }
                    headers.replaceOrAdd(name: "connection", value: keepAlive ? "keep-alive" : "close")
                    let responseHead = HTTPResponseHead(
                        version: .http1_1, status: HTTPResponseStatus(statusCode: response.status), headers: headers)
                    context.write(self.wrapOutboundOut(.head(responseHead)), promise: nil)
                    if request.method != "HEAD" && !response.body.isEmpty {
                        context.write(
                            self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: response.body)))), promise: nil)
                    }
                    context.writeAndFlush(self.wrapOutboundOut(.end(nil))).whenComplete { _ in
                        if !keepAlive { bound.value.close(promise: nil) }
                    }
                }
            }
        }
    }
}
