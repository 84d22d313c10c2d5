import Call
import Foundation
import Simulator
import SluiceCore
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The client against the simulator over real HTTP on loopback: URL shapes, auth, quota answers,
/// and every fault kind classified.
@Suite struct SimulatorClientTests {
    static let body = Data(#"{"max_tokens":50,"messages":[{"content":"Hello there, simulator.","role":"user"}]}"#.utf8)
    let client = ChatCompletionClient(connectionsPerHost: 8)

    func deployment(
        _ server: SimulatorServer, api: Deployment.API, name: String = "d", key: String = "sim-key", timeout: Double = 5
    )
        -> Deployment
    {
        Deployment(
            name: name, endpoint: server.endpoint, api: api, deployment: name, authentication: .apiKey(key),
            timeoutSeconds: timeout)
    }

    @Test(arguments: [Deployment.API.azure(apiVersion: "2024-10-21"), .azureV1, .openAICompatible])
    func everyURLShapeWorks(api: Deployment.API) async throws {
        let server = try await SimulatorServer.start(
            configuration: SimulatorConfiguration(baseLatency: 0, perTokenLatency: 0))
        var target = deployment(server, api: api)
        if api == .openAICompatible { target.authentication = .bearer("sim-key") }
        let outcome = await client.send(body: Self.body, to: target, customID: "c1")
        #expect(outcome.succeeded, "\(outcome.message ?? "")")
        #expect(outcome.statusCode == 200)
        #expect(outcome.usage?.promptTokens ?? 0 > 0)
        #expect(outcome.requestID != nil)
        let text = String(decoding: outcome.body ?? Data(), as: UTF8.self)
        #expect(text.contains("Echo: Hello there, simulator."))
        #expect(server.statistics.requestsByClientID["c1"] == 1)
        try await server.stop()
        try await client.shutdown()
    }

    @Test func wrongKeyIsUnauthorizedAndTerminal() async throws {
        let server = try await SimulatorServer.start(configuration: SimulatorConfiguration(baseLatency: 0))
        let outcome = await client.send(
            body: Self.body, to: deployment(server, api: .azureV1, key: "wrong"), customID: "c")
        #expect(outcome.statusCode == 401)
        #expect(outcome.errorClass == .unauthorized)
        #expect(outcome.errorClass?.isRetryable == false)
        try await server.stop()
        try await client.shutdown()
    }

    @Test func standardQuotaAnswers429WithRetryAfterAndHeaders() async throws {
        var configuration = SimulatorConfiguration(
            deployments: [
                .init(name: "std", kind: .standard(tokensPerMinute: 1_000, requestsPerMinute: 600, rpmWindowSeconds: 1))
            ],
            defaultKind: nil, baseLatency: 0, perTokenLatency: 0)
        configuration.charge = .tokens
        let server = try await SimulatorServer.start(configuration: configuration)
        let target = deployment(server, api: .azureV1, name: "std")
        var outcomes: [CallOutcome] = []
        for index in 0..<20 { outcomes.append(await client.send(body: Self.body, to: target, customID: "c\(index)")) }
        let admitted = outcomes.filter(\.succeeded)
        let limited = outcomes.filter { $0.errorClass == .rateLimited }
        // Charged by tokens here: each request costs its prompt + max_tokens (50) at arrival against 1,000 TPM.
        #expect(admitted.count >= 10 && admitted.count <= 16)
        #expect(!limited.isEmpty)
        #expect(limited.allSatisfy { ($0.retryAfter ?? 0) >= 1 && $0.message?.contains("RateLimitReached") == true })
        #expect(admitted.first?.remainingTokens != nil && admitted.first?.remainingRequests != nil)
        let unknown = await client.send(
            body: Self.body, to: deployment(server, api: .azureV1, name: "missing"), customID: "x")
        #expect(unknown.statusCode == 404)
        try await server.stop()
        try await client.shutdown()
    }

    @Test func provisionedQuotaAnswers429WithRetryAfterMilliseconds() async throws {
        let configuration = SimulatorConfiguration(
            deployments: [
                .init(name: "ptu", kind: .provisioned(tokensPerMinute: 6_000, outputTokenWeight: 4, bucketSeconds: 1))
            ],
            defaultKind: nil, baseLatency: 0, perTokenLatency: 0)
        let server = try await SimulatorServer.start(configuration: configuration)
        let target = deployment(server, api: .azureV1, name: "ptu")
        var limited: CallOutcome?
        for index in 0..<20 {
            let outcome = await client.send(body: Self.body, to: target, customID: "p\(index)")
            if outcome.errorClass == .rateLimited {
                limited = outcome
                break
            }
        }
        let refusal = try #require(limited)
        #expect((refusal.retryAfter ?? 10) < 2)
        try await server.stop()
        try await client.shutdown()
    }

    @Test func faultsAreClassified() async throws {
        func outcome(_ faults: SimulatorConfiguration.Faults, body: Data = Self.body, contextWindow: Int = 128_000)
            async throws -> CallOutcome
        {
            let configuration = SimulatorConfiguration(
                deployments: [.init(name: "d", kind: .unlimited, contextWindow: contextWindow)], baseLatency: 0,
                perTokenLatency: 0,
                faults: faults)
            let server = try await SimulatorServer.start(configuration: configuration)
            let result = await client.send(body: body, to: deployment(server, api: .azureV1, timeout: 1), customID: "f")
            try await server.stop()
            return result
        }
        var faults = SimulatorConfiguration.Faults()
        faults.serverError = 1
        #expect(try await outcome(faults).errorClass == .serverError)
        faults = .init()
        faults.serviceUnavailable = 1
        let unavailable = try await outcome(faults)
        #expect(unavailable.errorClass == .serverError && unavailable.retryAfter == 1)
        faults = .init()
        faults.connectionReset = 1
        let reset = try await outcome(faults)
        #expect(reset.errorClass == .invalidResponse || reset.errorClass == .connection)
        faults = .init()
        faults.truncatedJSON = 1
        #expect(try await outcome(faults).errorClass == .invalidResponse)
        faults = .init()
        faults.stall = 1
        faults.stallSeconds = 3
        #expect(try await outcome(faults).errorClass == .timeout)
        let filtered = try await outcome(
            .none, body: Data(#"{"max_tokens":5,"messages":[{"role":"user","content":"SLUICE-CONTENT-FILTER"}]}"#.utf8))
        #expect(filtered.errorClass == .contentFilter && filtered.statusCode == 400)
        let tooLong = try await outcome(.none, contextWindow: 40)
        #expect(tooLong.errorClass == .contextLengthExceeded)
        for result in [filtered, tooLong] { #expect(result.errorClass?.isRetryable == false) }
        try await client.shutdown()
    }

    @Test func anOversizedBodyIsRefusedAndAnIdleConnectionClosed() async throws {
        var configuration = SimulatorConfiguration(baseLatency: 0, perTokenLatency: 0)
        configuration.maxBodyBytes = 4_096
        configuration.idleTimeoutSeconds = 0.3
        let server = try await SimulatorServer.start(configuration: configuration)
        let large =
            Data(
                #"{"max_tokens":5,"messages":[{"content":"\#(String(repeating: "x", count: 10_000))","role":"user"}]}"#
                    .utf8)
        let refused = await client.send(body: large, to: deployment(server, api: .azureV1), customID: "big")
        #expect(refused.statusCode == 413, "\(refused.message ?? "")")
        let fine = await client.send(body: Self.body, to: deployment(server, api: .azureV1), customID: "small")
        #expect(fine.succeeded, "\(fine.message ?? "")")
        // A connection that sends nothing is closed by the server after its idle timeout.
        let started = ContinuousClock.now
        let closed = try Self.waitForClose(port: server.port, limitSeconds: 10)
        #expect(closed, "the silent connection stayed open")
        #expect(ContinuousClock.now - started < .seconds(5))
        try await server.stop()
        try await client.shutdown()
    }

    /// Connects, sends nothing and reads: true when the server closes the connection in time.
    static func waitForClose(port: Int, limitSeconds: Int) throws -> Bool {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw POSIXError(.EIO) }
        defer { close(socket) }
        var timeout = timeval(tv_sec: limitSeconds, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
        var byte: UInt8 = 0
        return recv(socket, &byte, 1, 0) == 0  // 0: closed by the peer; -1: timed out
    }
}
