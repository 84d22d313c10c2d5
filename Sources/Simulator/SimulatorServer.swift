import NIOCore
import NIOHTTP1
import NIOPosix

/// A real HTTP server emulating the Azure OpenAI data plane (and OpenAI-compatible servers) for
/// tests, benchmarks and `sluice run --simulate`.
///
/// It serves `POST /openai/deployments/{deployment}/chat/completions?api-version=...`,
/// `POST /openai/v1/chat/completions` and `POST /v1/chat/completions`, and the Files and Batches API
/// of Global Batch deployments in both shapes; enforces standard (TPM, RPM)
/// and provisioned (leaky bucket) quotas the way Azure does, and injects faults at given rates.
/// `GET /sluice/stats` returns its counters.
public final class SimulatorServer: Sendable {
    private let engine: SimulatorEngine
    private let channel: any Channel
    /// The port it listens on.
    public let port: Int
    /// The base URL, e.g. `http://127.0.0.1:41234`.
    public var endpoint: String { "http://127.0.0.1:\(port)" }

    private init(engine: SimulatorEngine, channel: any Channel, port: Int) {
        self.engine = engine
        self.channel = channel
        self.port = port
    }

    /// Starts a server on `host` and `port` (0 picks a free port).
    public static func start(
        configuration: SimulatorConfiguration, host: String = "127.0.0.1", port: Int = 0
    ) async throws -> SimulatorServer {
        let engine = SimulatorEngine(configuration: configuration)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 512)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            // A TCP-level option (at the socket level its number is SO_DEBUG, refused to non-root users).
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let idle = TimeAmount.nanoseconds(Int64(max(0.05, configuration.idleTimeoutSeconds) * 1e9))
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: idle))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(
                        SimulatorHandler(engine: engine, maxBodyBytes: configuration.maxBodyBytes))
                }
            }
            .bind(host: host, port: port).get()
        guard let bound = channel.localAddress?.port else {
            throw SimulatorError(message: "the simulator could not bind \(host):\(port)")
        }
        return SimulatorServer(engine: engine, channel: channel, port: bound)
    }

    /// The counters so far.
    public var statistics: SimulatorStatistics { engine.statistics }

    /// Simulated seconds since the server started.
    public var simulatedNow: Double { engine.now }

    /// Stops listening.
    public func stop() async throws { try await channel.close() }
}

/// A simulator failure.
public struct SimulatorError: Error, Sendable, CustomStringConvertible {
    /// Why the server could not start.
    public let message: String
    public var description: String { message }
}

/// Collects one request, asks the engine, and writes the answer after its latency.
final class SimulatorHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let engine: SimulatorEngine
    private let maxBodyBytes: Int
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var tooLarge = false
    /// Requests read whose answers are not written yet.
    private var answering = 0

    init(engine: SimulatorEngine, maxBodyBytes: Int) {
        self.engine = engine
        self.maxBodyBytes = max(1, maxBodyBytes)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body.removeAll(keepingCapacity: true)
            tooLarge = false
        case .body(var buffer):
            guard !tooLarge else { return }
            if body.count + buffer.readableBytes > maxBodyBytes {
                tooLarge = true
                body.removeAll()
            } else if let bytes = buffer.readBytes(length: buffer.readableBytes) {
                body += bytes
            }
        case .end:
            guard let head else { return }
            self.head = nil
            answering += 1
            if tooLarge {
                let response = SimulatorEngine.errorResponse(
                    413, "request_too_large", "The request body is larger than \(maxBodyBytes) bytes.")
                write(response, keepAlive: false, context: context)
                return
            }
            let headers = head.headers.map { ($0.name, $0.value) }
            let response = engine.handle(method: head.method.rawValue, uri: head.uri, headers: headers, body: body)
            let keepAlive = head.isKeepAlive
            let loop = context.eventLoop.assumeIsolated()
            if response.delay > 0 {
                loop.scheduleTask(in: .nanoseconds(Int64(response.delay * 1e9))) {
                    self.write(response, keepAlive: keepAlive, context: context)
                }
            } else {
                write(response, keepAlive: keepAlive, context: context)
            }
        }
    }

    /// A connection silent for the idle timeout, with nothing to answer, is closed.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            if answering == 0 && head == nil { context.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func write(_ response: SimulatedResponse, keepAlive: Bool, context: ChannelHandlerContext) {
        answering = max(0, answering - 1)
        if response.delivery == .stall {
            context.close(promise: nil)
            return
        }
        var headers = HTTPHeaders(response.headers)
        headers.replaceOrAdd(name: "content-length", value: String(response.body.count))
        if !keepAlive { headers.replaceOrAdd(name: "connection", value: "close") }
        let status = HTTPResponseStatus(statusCode: response.status)
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        var buffer = context.channel.allocator.buffer(capacity: response.body.count)
        if response.delivery == .resetMidBody {
            buffer.writeBytes(response.body.prefix(response.body.count / 2))
            context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
            context.close(promise: nil)
            return
        }
        buffer.writeBytes(response.body)
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let loopContext = NIOLoopBound(context, eventLoop: context.eventLoop)
            done.whenComplete { _ in loopContext.value.close(promise: nil) }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
