import Call
import Collect
import Foundation
import Pipeline
import Queue
import Simulator
import SluiceCore
import SluiceTesting
import Testing

/// Whole runs on a PostgreSQL queue: several workers at once on one database, the lines exported.
@Suite(.enabled(if: PostgresTestServer.available), .timeLimit(.minutes(2)))
struct PostgresRunTests {
    static let pipeline = """
        name: shared
        model: gpt-4o-mini
        max_tokens: 20
        chunking: {max_tokens: 60}
        messages:
          - role: user
            content: "{{chunk.text}}"
        """

    /// Twelve documents of several chunks each, enqueued on a new PostgreSQL database.
    static func enqueueDocuments(in directory: TemporaryDirectory) async throws -> (PostgresLocation, PostgresJobQueue)
    {
        for index in 0..<12 {
            let sentences = (0..<8).map { "Sentence \($0) of document \(index) says a little more." }
            try directory.write("docs/d\(index).txt", sentences.joined(separator: " "))
        }
        let location = try await PostgresTestServer.shared.database()
        let queue = try await PostgresJobQueue(location: location)
        let pipeline = try PipelineFile.parse(Self.pipeline, file: "shared.yaml", defaultName: "shared")
        _ = try await Enqueuer(queue: queue).enqueue(root: directory.file("docs"), pipeline: pipeline)
        return (location, queue)
    }

    /// `count` workers, each with its own connection pool as on its own host, until the queue is drained.
    static func workers(_ count: Int, location: PostgresLocation, server: SimulatorServer, maxCost: Double? = nil)
        async throws -> [RunSummary]
    {
        try await withThrowingTaskGroup(of: RunSummary.self) { group in
            for _ in 0..<count {
                group.addTask {
                    let queue = try await PostgresJobQueue(location: location)
                    let deployment = Deployment(
                        name: "sim", endpoint: server.endpoint, api: .azure(apiVersion: "2024-10-21"),
                        deployment: "sim", authentication: .apiKey("sim-key"), timeoutSeconds: 5, maxConcurrency: 4)
                    var configuration = RunConfiguration(
                        outputPath: "", deployments: ["sim": deployment], progressInterval: 60)
                    configuration.sharedQueue = true
                    configuration.maxCost = maxCost
                    let client = ChatCompletionClient()
                    let runner = PipelineRunner(
                        queue: queue, databasePath: location.description, configuration: configuration,
                        client: client)
                    let summary = try await runner.run { _ in }
                    try await client.shutdown()
                    await queue.close()
                    return summary
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
    }

    /// `--max-cost` is one budget for every worker: three workers together never pass it.
    @Test func threeWorkersShareOneBudget() async throws {
        let directory = try TemporaryDirectory()
        let (location, queue) = try await Self.enqueueDocuments(in: directory)
        // Served by the model the pipeline names, so the reservation's price is the bill's.
        let server = try await SimulatorServer.start(
            configuration: SimulatorConfiguration(
                deployments: [.init(name: "sim", kind: .unlimited, model: "gpt-4o-mini")], baseLatency: 0.01,
                perTokenLatency: 0, replyTokens: 5))
        let limit = 0.0002
        let summaries = try await Self.workers(3, location: location, server: server, maxCost: limit)
        let spent = try await queue.spendReport(documents: 0).total
        #expect(spent <= limit, "three workers spent \(spent) of a budget of \(limit)")
        #expect(spent >= limit / 2, "the budget was hardly used: \(spent)")
        #expect(
            summaries.contains { $0.stoppedBecause?.contains("budget") == true }, "\(summaries.map(\.stoppedBecause))")
        #expect(try await queue.budgetUse().reserved == 0, "a reservation outlived its call")
        try await server.stop()
        await queue.close()
    }

    /// Three workers, each with its own connection pool as on three hosts, drain one queue together:
    /// every chunk is called once, by one of them, and the export holds one line per chunk.
    @Test func threeWorkersShareOneQueueAndCallEachChunkOnce() async throws {
        let directory = try TemporaryDirectory()
        let (location, enqueuer) = try await Self.enqueueDocuments(in: directory)
        let server = try await SimulatorServer.start(
            configuration: SimulatorConfiguration(baseLatency: 0.01, perTokenLatency: 0, replyTokens: 5))
        let summaries = try await Self.workers(3, location: location, server: server)
        let statistics = try await enqueuer.statistics()
        #expect(statistics.pending == 0 && statistics.count(.call, .failed) == 0)
        let chunks = statistics.count(.call, .done)
        #expect(chunks > 12, "documents of several chunks each")
        // Each chunk was sent once, whichever worker sent it.
        #expect(summaries.reduce(0) { $0 + $1.calls } == chunks)
        #expect(server.statistics.completed == chunks)
        let output = directory.file("export.jsonl")
        let exported = try await Exporter.export(queue: enqueuer, runIDs: nil, to: output)
        #expect(exported.lines == chunks && exported.unreadable == 0)
        let lines = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n")
        let ids = try lines.map { line -> String in
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            return try #require(object["custom_id"] as? String)
        }
        #expect(Set(ids).count == chunks)
        try await server.stop()
        await enqueuer.close()
    }
}
