import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// A real HTTP server on loopback that answers every request as a script says: for endpoints that
/// misbehave in ways the simulator does not (redirects, absurd headers). It records what reached it.
public final class ScriptedEndpoint: Sendable {
    /// What one request is answered with.
    public struct Answer: Sendable {
        public var status: Int
        public var headers: [(String, String)]
        public var body: String

        public init(status: Int, headers: [(String, String)] = [], body: String = "") {
            self.status = status
            self.headers = headers
            self.body = body
        }
    }

    /// A request that reached it: its target and headers (names lowercased).
    public struct Received: Sendable {
        public var uri: String
        public var headers: [String: String]
    }

    private let channel: any Channel
    private let log: NIOLockedValueBox<[Received]>
    public let port: Int
    public var endpoint: String { "http://127.0.0.1:\(port)" }

    private init(channel: any Channel, log: NIOLockedValueBox<[Received]>, port: Int) {
        self.channel = channel
        self.log = log
        self.port = port
    }

    /// Every request that reached it so far.
    public var received: [Received] { log.withLockedValue { $0 } }

    public static func start(answer: @escaping @Sendable (_ uri: String) -> Answer) async throws -> ScriptedEndpoint {
        let log = NIOLockedValueBox<[Received]>([])
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(ScriptedHandler(answer: answer, log: log))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        guard let port = channel.localAddress?.port else { throw CocoaError(.fileNoSuchFile) }
        return ScriptedEndpoint(channel: channel, log: log, port: port)
    }

    public func stop() async throws { try await channel.close() }
}

private final class ScriptedHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let answer: @Sendable (String) -> ScriptedEndpoint.Answer
    private let log: NIOLockedValueBox<[ScriptedEndpoint.Received]>
    private var head: HTTPRequestHead?

    init(
        answer: @escaping @Sendable (String) -> ScriptedEndpoint.Answer,
        log: NIOLockedValueBox<[ScriptedEndpoint.Received]>
    ) {
        self.answer = answer
        self.log = log
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head else { return }
            self.head = nil
            var headers: [String: String] = [:]
            for (name, value) in head.headers { headers[name.lowercased()] = value }
            log.withLockedValue { $0.append(.init(uri: head.uri, headers: headers)) }
            let reply = answer(head.uri)
            var responseHeaders = HTTPHeaders(reply.headers)
            responseHeaders.replaceOrAdd(name: "content-length", value: String(reply.body.utf8.count))
            let status = HTTPResponseStatus(statusCode: reply.status)
            context.write(
                wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: responseHeaders))),
                promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: reply.body)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}
