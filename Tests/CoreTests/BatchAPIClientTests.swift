import Call
import Foundation
import Simulator
import Testing

/// The batch lane's client of the Files and Batches API against the simulator, in each URL shape.
@Suite struct BatchAPIClientTests {
    static func server(_ configure: (inout SimulatorConfiguration) -> Void = { _ in }) async throws -> SimulatorServer {
        var configuration = SimulatorConfiguration(
            deployments: [.init(name: "gpt4o-batch", kind: .batch(enqueuedTokens: 100_000))], defaultKind: nil,
            baseLatency: 0, perTokenLatency: 0, speedUp: 100, replyTokens: 8)
        configuration.batches.linesPerSecond = 100
        configure(&configuration)
        return try await SimulatorServer.start(configuration: configuration)
    }

    static func client(_ server: SimulatorServer, api: Deployment.API, key: String = "sim-key") -> BatchAPIClient {
        BatchAPIClient(
            deployment: Deployment(
                name: "b", endpoint: server.endpoint + "/", api: api, deployment: "gpt4o-batch",
                authentication: api == .openAICompatible ? .bearer(key) : .apiKey(key), timeoutSeconds: 5))
    }

    /// Runs `body`, then shuts the clients down however it ended (a client left running traps in its
    /// deinit, and would take the whole test process with it).
    static func using(_ clients: [BatchAPIClient], _ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch {
            for client in clients { try? await client.shutdown() }
            throw error
        }
        for client in clients { try await client.shutdown() }
    }

    static func input(_ count: Int) -> Data {
        Data(
            (0..<count).map {
                #"{"custom_id":"c-\#($0)","method":"POST","url":"/chat/completions","body":{"model":"gpt4o-batch","max_tokens":10,"messages":[{"role":"user","content":"Line \#($0) of the input."}]}}"#
            }.joined(separator: "\n").utf8) + Data("\n".utf8)
    }

    @Test(arguments: [Deployment.API.azure(apiVersion: "2024-10-21"), .azureV1, .openAICompatible])
    func aBatchGoesThroughEveryStep(api: Deployment.API) async throws {
        let server = try await Self.server()
        let client = Self.client(server, api: api)
        try await Self.using([client]) {
            let file = try await client.upload(Self.input(12), filename: "run-1-part-1.jsonl")
            #expect(file.status == "pending" && file.filename == "run-1-part-1.jsonl" && file.bytes > 0)
            var processed = file
            while processed.status != "processed" {
                try await Task.sleep(for: .milliseconds(5))
                processed = try await client.file(file.id)
            }
            var batch = try await client.createBatch(inputFileID: file.id, metadata: ["sluice_run": "1"])
            #expect(batch.status == "validating" && batch.inputFileID == file.id)
            while !batch.isTerminal {
                try await Task.sleep(for: .milliseconds(10))
                batch = try await client.batch(batch.id)
            }
            #expect(batch.status == "completed" && batch.requestCounts == .init(total: 12, completed: 12, failed: 0))
            #expect(batch.metadata["sluice_run"] == "1")
            let output = try await client.content(try #require(batch.outputFileID), limit: 1 << 20)
            let lines = output.split(separator: UInt8(ascii: "\n"))
            #expect(lines.count == 12)
            // Bounded: a smaller limit is refused, not read whole.
            await #expect(throws: BatchAPIClient.Failure.self) {
                _ = try await client.content(try #require(batch.outputFileID), limit: 100)
            }
            let listed = try await client.batches(limit: 10)
            #expect(listed.batches.map(\.id) == [batch.id] && !listed.hasMore)
            try await client.deleteFile(file.id)
            try await client.deleteFile(file.id)  // gone already: not an error
            #expect(server.statistics.filesDeleted == 1)
        }
        try await server.stop()
    }

    @Test func failuresNameTheRequestAndTheServicesCode() async throws {
        // Uploads stay pending 100,000 simulated seconds (1,000 s).
        let server = try await Self.server { $0.batches.pendingSeconds = 100_000 }
        let client = Self.client(server, api: .azure(apiVersion: "2024-10-21"))
        let wrong = Self.client(server, api: .azureV1, key: "wrong")
        try await Self.using([client, wrong]) {
            // Each request's failure, as the client reports it.
            func failure(_ request: () async throws -> Void) async -> BatchAPIClient.Failure? {
                do {
                    try await request()
                    return nil
                } catch let error as BatchAPIClient.Failure {
                    return error
                } catch {
                    Issue.record("not a BatchAPIClient.Failure: \(error)")
                    return nil
                }
            }
            let missing = await failure { _ = try await client.batch("batch_missing") }
            #expect(
                missing?.status == 404 && missing?.code == "batchNotFound"
                    && missing?.message.contains("reading batch batch_missing") == true,
                "\(String(describing: missing))")
            let file = try await client.upload(Self.input(2), filename: "x.jsonl")
            let pending = await failure { _ = try await client.createBatch(inputFileID: file.id) }
            #expect(
                pending?.status == 400 && pending?.message.contains("pending") == true, "\(String(describing: pending))"
            )
            let unauthorized = await failure { _ = try await wrong.batches() }
            #expect(unauthorized?.status == 401)
            // An id cannot add a path or a query to the URL.
            #expect(
                client.url("files/" + "a%2Fb", query: ["after": "x&y"]).hasSuffix("after=x%26y&api-version=2024-10-21"))
        }
        try await server.stop()
    }
}
