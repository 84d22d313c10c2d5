import Call
import Foundation
import Pipeline
import Queue
import Simulator
import SluiceCore
import SluiceTesting
import Testing

/// Whole runs through the batch lane: a real SQLite queue, the simulator's Files and Batches API
/// over HTTP (sped up), the lane's real requests. Each result is bound to its chunk by custom_id.
@Suite(.timeLimit(.minutes(3))) struct BatchLaneRunTests {
    static let pipeline = PipelineDefinition(
        name: "batch", model: "gpt-4o-mini", messages: [.init(role: "user", template: "Summarize: {{chunk.text}}")],
        maxTokens: 30, chunking: .init(maxTokens: 150, overlapTokens: 0))

    struct Harness {
        let directory: TemporaryDirectory
        let server: SimulatorServer
        let queue: SQLiteJobQueue
        var enqueuedTokens: Int

        init(enqueuedTokens: Int, batches: SimulatorConfiguration.Batches = .init(), documents: Int = 24)
            async throws
        {
            directory = try TemporaryDirectory()
            self.enqueuedTokens = enqueuedTokens
            var configuration = SimulatorConfiguration(
                deployments: [
                    .init(name: "gpt-batch", kind: .batch(enqueuedTokens: enqueuedTokens), model: "gpt-4o-mini"),
                    .init(name: "sim", kind: .unlimited, model: "gpt-4o-mini"),
                ], baseLatency: 0.002, perTokenLatency: 0, speedUp: 20, replyTokens: 12)
            configuration.batches = batches
            server = try await SimulatorServer.start(configuration: configuration)
            queue = try SQLiteJobQueue(path: directory.file("queue.db"))
            for index in 0..<documents {
                try directory.write(
                    "docs/d\(index).txt",
                    DocumentFactory.document(seed: index, paragraphs: 1 + index % 3, wordsPerParagraph: 60))
            }
        }

        func enqueue(_ pipeline: PipelineDefinition = BatchLaneRunTests.pipeline) async throws {
            _ = try await Enqueuer(queue: queue).enqueue(root: directory.file("docs"), pipeline: pipeline)
        }

        func runner(pool: [String] = ["gpt-batch"], api: Deployment.API = .azure(apiVersion: "2024-10-21"))
            -> (PipelineRunner, ChatCompletionClient)
        {
            func deployment(_ name: String) -> Deployment {
                Deployment(
                    name: name, endpoint: server.endpoint, api: api, deployment: name,
                    authentication: .apiKey("sim-key"), timeoutSeconds: 5, maxConcurrency: 8)
            }
            let client = ChatCompletionClient()
            var configuration = RunConfiguration(
                outputPath: directory.file("out.jsonl"),
                deployments: Dictionary(uniqueKeysWithValues: pool.map { ($0, deployment($0)) }),
                retry: RetryPolicy(maxAttempts: 6, baseSeconds: 0.01, capSeconds: 0.05), progressInterval: 60)
            configuration.pools = ["lanes": pool]
            configuration.models = Dictionary(uniqueKeysWithValues: pool.map { ($0, "gpt-4o-mini") })
            configuration.billing = ["gpt-batch": .perToken(.batch), "sim": .perToken(.global)]
            configuration.batch = ["gpt-batch": BatchSettings(enqueuedTokens: enqueuedTokens, pollSeconds: 0.05)]
            configuration.batchLane.tickSeconds = 0.02
            // As the product: a packing waits for the flow to pause, so one wave is one batch under load too.
            configuration.batchLane.lingerSeconds = 2
            let runner = PipelineRunner(
                queue: queue, databasePath: directory.file("queue.db"), configuration: configuration, client: client)
            return (runner, client)
        }

        func run(pool: [String] = ["gpt-batch"]) async throws -> RunSummary {
            let (runner, client) = runner(pool: pool)
            let summary = try await runner.run { _ in }
            try await client.shutdown()
            return summary
        }

        func lines() throws -> [[String: Any]] {
            let data = (try? Data(contentsOf: URL(fileURLWithPath: directory.file("out.jsonl")))) ?? Data()
            return try data.split(separator: UInt8(ascii: "\n")).map {
                try #require(try JSONSerialization.jsonObject(with: Data($0)) as? [String: Any])
            }
        }

        /// The simulator's counters of the Files and Batches API.
        var statistics: SimulatorStatistics { server.statistics }

        func stop() async throws { try await server.stop() }
    }

    static func sluice(_ line: [String: Any]) -> [String: Any] { line["sluice"] as? [String: Any] ?? [:] }

    /// Every line answers its own chunk: the simulator echoes the first words of the prompt.
    static func checkEcho(_ line: [String: Any], directory: TemporaryDirectory) throws {
        let meta = sluice(line)
        let document = try #require(meta["document"] as? String)
        let body = try #require((line["response"] as? [String: Any])?["body"] as? [String: Any])
        let content = try #require(
            ((body["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"] as? String)
        let text = try String(contentsOfFile: directory.file("docs/" + document), encoding: .utf8)
            .split(whereSeparator: \.isWhitespace).joined(separator: " ")
        let echo = content.replacingOccurrences(of: "Echo: Summarize: ", with: "").split(separator: " ").prefix(5)
            .joined(separator: " ")
        #expect(echo.split(separator: " ").count == 5 && text.contains(echo), "\(document): \(content)")
    }

    @Test func aRunIsSplitIntoFilesAndWavesWithinTheEnqueuedTokenQuota() async throws {
        let harness = try await Harness(enqueuedTokens: 1_500)
        try await harness.enqueue()
        let summary = try await harness.run()
        let lines = try harness.lines()
        #expect(summary.chunksFailed == 0 && summary.chunks > 30)
        #expect(lines.count == summary.chunks)
        #expect(Set(lines.compactMap { $0["custom_id"] as? String }).count == lines.count)
        let batches = try await harness.queue.batches(all: true)
        // The quota held: several waves, each within it, none refused by the service.
        #expect(batches.count >= 3, "\(batches.count) batches")
        #expect(batches.allSatisfy { $0.inputTokens <= 1_500 && $0.refusals == 0 && $0.step == .done })
        #expect(batches.allSatisfy { $0.status == "completed" })
        let ids = Set(batches.compactMap(\.batchID))
        var prompt = 0
        var completion = 0
        var cost = 0.0
        for line in lines {
            let meta = Self.sluice(line)
            #expect(meta["lane"] as? String == "batch")
            #expect(ids.contains(meta["batch_id"] as? String ?? ""))
            try Self.checkEcho(line, directory: harness.directory)
            let usage = try #require(meta["usage"] as? [String: Any])
            prompt += usage["prompt_tokens"] as? Int ?? 0
            completion += usage["completion_tokens"] as? Int ?? 0
            let priced = try #require(meta["cost"] as? [String: Any])
            #expect(priced["tier"] as? String == "batch")
            cost += priced["total"] as? Double ?? 0
        }
        // gpt-4o-mini at the batch list price: $0.075 and $0.30 per million tokens.
        #expect(abs(cost - (Double(prompt) * 0.075 + Double(completion) * 0.30) / 1e6) < 1e-9)
        let statistics = harness.statistics
        #expect(statistics.billedPromptTokens == prompt)
        #expect(statistics.batchesCreated == batches.count && statistics.filesUploaded == batches.count)
        // Every line was uploaded and run once; the service keeps no file of the run.
        #expect(statistics.uploadedLinesByCustomID.values.allSatisfy { $0 == 1 })
        #expect(statistics.batchLinesByCustomID.count == lines.count)
        #expect(statistics.batchLinesByCustomID.values.allSatisfy { $0 == 1 })
        let client = BatchAPIClient(
            deployment: Deployment(
                name: "gpt-batch", endpoint: harness.server.endpoint, api: .azure(apiVersion: "2024-10-21"),
                deployment: "gpt-batch", authentication: .apiKey("sim-key")))
        #expect(try await client.files().files.isEmpty)
        try await client.shutdown()
        // Nothing left: a second run sends nothing.
        let again = try await harness.run()
        #expect(again.calls == 0 && harness.statistics.batchesCreated == batches.count)
        try await harness.stop()
    }

    @Test func failedLinesAndExpiredBatchesGoToALaterBatch() async throws {
        var options = SimulatorConfiguration.Batches()
        options.failedLineShare = 0.25
        options.validationSeconds = 0.2
        options.linesPerSecond = 15
        options.expiresAfterSeconds = 1.5
        let harness = try await Harness(enqueuedTokens: 3_000, batches: options, documents: 16)
        try await harness.enqueue()
        let summary = try await harness.run()
        let lines = try harness.lines()
        #expect(summary.chunksFailed == 0 && lines.count == summary.chunks)
        #expect(Set(lines.compactMap { $0["custom_id"] as? String }).count == lines.count)
        for line in lines { try Self.checkEcho(line, directory: harness.directory) }
        let batches = try await harness.queue.batches(all: true)
        #expect(batches.contains { $0.status == "expired" }, "\(batches.map(\.status))")
        #expect(batches.contains { $0.failed > 0 })
        // Lines the service did not answer were submitted again; the calls were answered once.
        let submitted = harness.statistics.batchLinesByCustomID
        #expect(submitted.values.contains { $0 > 1 })
        #expect(submitted.count == lines.count)
        try await harness.stop()
    }

    @Test func aSubmissionRefusedForTheQuotaWaitsAndIsSubmittedAgain() async throws {
        var options = SimulatorConfiguration.Batches()
        options.validationSeconds = 0.1
        options.linesPerSecond = 1
        let harness = try await Harness(enqueuedTokens: 4_000, batches: options, documents: 6)
        // Another client takes most of the quota with a batch that runs for a few seconds.
        let other = BatchAPIClient(
            deployment: Deployment(
                name: "gpt-batch", endpoint: harness.server.endpoint, api: .azureV1, deployment: "gpt-batch",
                authentication: .apiKey("sim-key")))
        let packer = BatchPacker(deployment: "gpt-batch", enqueuedTokens: 4_000)
        let filler = String(repeating: "word ", count: 10)
        // 200 lines of about 17 tokens: most of the quota, for 200 simulated seconds (10 s).
        let requests = (0..<200).map {
            BatchPacker.Request(
                customID: "other-\($0)", body: Data(#"{"messages":[{"role":"user","content":"\#(filler)"}]}"#.utf8),
                inputTokens: 0)
        }
        let content = requests.reduce(into: Data()) { $0 += packer.line($1) + Data("\n".utf8) }
        let file = try await other.upload(content, filename: "other.jsonl")
        var processed = try await other.file(file.id)
        while processed.status != "processed" {
            try await Task.sleep(for: .milliseconds(20))
            processed = try await other.file(file.id)
        }
        let theirs = try await other.createBatch(inputFileID: file.id)
        try await harness.enqueue()
        let (runner, client) = harness.runner()
        let run = Task { try await runner.run { _ in } }
        // Ours is refused while theirs runs; once theirs is cancelled, ours goes through.
        let deadline = ContinuousClock.now + .seconds(60)
        while try await harness.queue.batches(all: true).allSatisfy({ $0.refusals == 0 }),
            ContinuousClock.now < deadline
        {
            try await Task.sleep(for: .milliseconds(20))
        }
        _ = try await other.cancel(theirs.id)
        let summary = try await run.value
        try await client.shutdown()
        #expect(summary.chunksFailed == 0)
        #expect(try harness.lines().count == summary.chunks)
        let batches = try await harness.queue.batches(all: true)
        let their = try await other.batch(theirs.id)
        #expect(batches.contains { $0.refusals > 0 }, "no submission was refused: \(batches) \(their)")
        #expect(batches.allSatisfy { $0.step == .done && $0.status == "completed" })
        try await other.shutdown()
        // The refused file was not uploaded again.
        #expect(harness.statistics.filesUploaded == batches.count + 1)
        try await harness.stop()
    }

    @Test func cancelCollectsWhatRunningBatchesAnsweredAndReturnsTheRest() async throws {
        var options = SimulatorConfiguration.Batches()
        options.validationSeconds = 0.1
        // About two lines a second of real time: a loaded machine still cancels it midway.
        options.linesPerSecond = 0.1
        let harness = try await Harness(enqueuedTokens: 100_000, batches: options, documents: 10)
        try await harness.enqueue()
        // Azure's v1 surface: {endpoint}/openai/v1/files, /batches.
        let (runner, client) = harness.runner(api: .azureV1)
        let run = Task { try await runner.run { _ in } }
        // Stop the run (as Ctrl-C would) once its batch has answered a few lines.
        let deadline = ContinuousClock.now + .seconds(60)
        while try await harness.queue.batches(all: false).allSatisfy({ $0.completed < 1 }),
            ContinuousClock.now < deadline
        {
            try await Task.sleep(for: .milliseconds(20))
        }
        run.cancel()
        let stopped = await run.result
        try await client.shutdown()
        #expect((try? stopped.get())?.interrupted ?? true, "\(stopped)")
        let running = try await harness.queue.batches(all: false)
        #expect(running.count == 1 && running.first?.step == .submitted)
        // `sluice cancel`: the batch is cancelled on the service and what it answered is collected.
        let (canceller, cancelClient) = harness.runner(api: .azureV1)
        let cancellation = try await canceller.cancelBatches()
        try await cancelClient.shutdown()
        #expect(cancellation.asked == 1 && cancellation.drivenHere)
        let ended = try #require(cancellation.batches.first)
        #expect(ended.status == "cancelled" && ended.step == .done)
        let partial = try harness.lines()
        #expect(partial.count >= 1 && partial.count < ended.lines, "\(partial.count) of \(ended.lines)")
        let statistics = try await harness.queue.statistics()
        #expect(statistics.count(.call, .ready) == ended.lines - partial.count)
        // The next run sends the rest, and only the rest.
        let summary = try await harness.run()
        let lines = try harness.lines()
        #expect(summary.chunksFailed == 0 && lines.count == summary.chunks)
        #expect(Set(lines.compactMap { $0["custom_id"] as? String }).count == lines.count)
        #expect(harness.statistics.batchLinesByCustomID.values.filter { $0 > 1 }.count <= ended.lines - partial.count)
        try await harness.stop()
    }

    @Test func aMapReduceRunsItsChunksAndThenItsReducesThroughBatches() async throws {
        let harness = try await Harness(enqueuedTokens: 50_000, documents: 8)
        var pipeline = Self.pipeline
        pipeline.chunking = .init(maxTokens: 40, overlapTokens: 0)
        pipeline.reduce = .init(
            messages: [.init(role: "user", template: "Combine {{document.path}}: {{#results}}{{text}} {{/results}}")],
            maxTokens: 30, maxInputTokens: 2_000)
        try await harness.enqueue(pipeline)
        let summary = try await harness.run()
        #expect(summary.chunksFailed == 0 && summary.reduceFailed == 0 && summary.reduceWaiting == 0)
        let lines = try harness.lines()
        let documents = lines.filter { Self.sluice($0)["kind"] as? String == "document" }
        #expect(documents.count == 8)
        #expect(lines.allSatisfy { Self.sluice($0)["lane"] as? String == "batch" })
        // The reduces waited for their chunks: a document's summary is in a later batch than its chunks.
        for document in documents {
            let path = Self.sluice(document)["document"] as? String
            let chunkBatches = Set(
                lines.filter {
                    Self.sluice($0)["document"] as? String == path && Self.sluice($0)["kind"] as? String == "chunk"
                }
                .compactMap { Self.sluice($0)["batch_id"] as? String })
            #expect(!chunkBatches.isEmpty && !chunkBatches.contains(Self.sluice(document)["batch_id"] as? String ?? ""))
        }
        try await harness.stop()
    }

    @Test func aMixedPoolSendsOnlineWhatNoBatchCanTakeAndWhatABatchDidNotAnswer() async throws {
        var options = SimulatorConfiguration.Batches()
        options.failedLineShare = 0.3
        options.validationSeconds = 0.1
        let harness = try await Harness(enqueuedTokens: 150, batches: options, documents: 12)
        var pipeline = Self.pipeline
        pipeline.deployment = "lanes"
        pipeline.batchRetries = "online"
        try await harness.enqueue(pipeline)
        let summary = try await harness.run(pool: ["gpt-batch", "sim"])
        let lines = try harness.lines()
        #expect(summary.chunksFailed == 0 && lines.count == summary.chunks)
        let lanes = Dictionary(grouping: lines) { Self.sluice($0)["lane"] as? String ?? "" }
        #expect((lanes["batch"]?.count ?? 0) > 0 && (lanes["online"]?.count ?? 0) > 0, "\(lanes.mapValues(\.count))")
        for line in lanes["online"] ?? [] {
            #expect(Self.sluice(line)["deployment"] as? String == "sim")
            #expect((Self.sluice(line)["cost"] as? [String: Any])?["tier"] as? String == "global")
        }
        // Online calls of this run are the ones the batch could not take or did not answer.
        let submitted = harness.statistics.batchLinesByCustomID
        #expect(submitted.values.allSatisfy { $0 == 1 })
        try await harness.stop()
    }
}
