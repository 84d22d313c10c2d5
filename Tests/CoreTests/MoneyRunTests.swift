import Call
import Catalog
import Foundation
import Pipeline
import Queue
import Simulator
import SluiceCore
import SluiceTesting
import Testing

/// Structured outputs, map-reduce, cost and budget in whole runs: real SQLite file, the simulator over HTTP.
@Suite struct MoneyRunTests {
    /// The repository (for the shipped pipelines and samples).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    struct Harness {
        let directory: TemporaryDirectory
        let server: SimulatorServer
        let queue: SQLiteJobQueue
        let model: String

        init(model: String = "gpt-4o-mini", replyTokens: Int = 20, faults: SimulatorConfiguration.Faults = .none)
            async throws
        {
            directory = try TemporaryDirectory()
            self.model = model
            server = try await SimulatorServer.start(
                configuration: SimulatorConfiguration(
                    deployments: [.init(name: "sim", kind: .unlimited, model: model)], baseLatency: 0.005,
                    perTokenLatency: 0, replyTokens: replyTokens, faults: faults))
            queue = try SQLiteJobQueue(path: directory.file("queue.db"))
        }

        func enqueue(_ pipeline: PipelineDefinition, root: String? = nil) async throws {
            _ = try await Enqueuer(queue: queue).enqueue(root: root ?? directory.file("docs"), pipeline: pipeline)
        }

        func run(maxCost: Double? = nil, concurrency: Int = 8) async throws -> RunSummary {
            let deployment = Deployment(
                name: "sim", endpoint: server.endpoint, api: .azure(apiVersion: "2024-10-21"), deployment: "sim",
                authentication: .apiKey("sim-key"), timeoutSeconds: 5, maxConcurrency: concurrency)
            let client = ChatCompletionClient()
            var configuration = RunConfiguration(
                outputPath: directory.file("out.jsonl"), deployments: ["sim": deployment], defaultDeployment: "sim",
                retry: RetryPolicy(maxAttempts: 6, baseSeconds: 0.01, capSeconds: 0.05), progressInterval: 60)
            configuration.models = ["sim": model]
            configuration.maxCost = maxCost
            let runner = PipelineRunner(
                queue: queue, databasePath: directory.file("queue.db"), configuration: configuration, client: client)
            let summary = try await runner.run { _ in }
            try await client.shutdown()
            return summary
        }

        func lines() throws -> [[String: Any]] {
            let data = try Data(contentsOf: URL(fileURLWithPath: directory.file("out.jsonl")))
            return try data.split(separator: UInt8(ascii: "\n")).map {
                try #require(try JSONSerialization.jsonObject(with: Data($0)) as? [String: Any])
            }
        }
    }

    static func sluice(_ line: [String: Any]) -> [String: Any] { line["sluice"] as? [String: Any] ?? [:] }

    static let extractYAML = """
        name: facts
        model: gpt-4o-mini
        max_tokens: 200
        chunking: {max_tokens: 400}
        output_retries: 2
        response_format:
          type: json_schema
          name: facts
          schema:
            type: object
            properties:
              title: {type: string}
              kind: {type: string, enum: [contract, report, other]}
              amounts: {type: array, items: {type: object, properties: {value: {type: number}, currency: {type: string}}, required: [value, currency], additionalProperties: false}}
            required: [title, kind, amounts]
            additionalProperties: false
        messages:
          - role: user
            content: "Extract the facts as JSON. {{chunk.text}}"
        """

    @Test func schemaViolatingRepliesAreAskedAgainThenRecordedAsInvalidOutput() async throws {
        let harness = try await Harness()
        try harness.directory.write("docs/good.md", "A supply contract over 12,000 EUR between Acme and Contoso.")
        try harness.directory.write("docs/once.md", "A report. SLUICE-INVALID-ONCE The first reply breaks the schema.")
        try harness.directory.write("docs/never.md", "A letter. SLUICE-INVALID-OUTPUT Every reply breaks the schema.")
        let pipeline = try PipelineFile.parse(Self.extractYAML, file: "facts.yaml", defaultName: "facts")
        try await harness.enqueue(pipeline)
        let summary = try await harness.run()
        let lines = try harness.lines()
        #expect(lines.count == 3 && summary.pending == 0)
        guard case .jsonSchema(_, let schemaText, _)? = pipeline.responseFormat else { return }
        let schema = try JSONSchema(text: schemaText)
        let byDocument = Dictionary(
            uniqueKeysWithValues: lines.map { (Self.sluice($0)["document"] as? String ?? "", $0) })
        for name in ["good.md", "once.md"] {
            let line = try #require(byDocument[name])
            #expect(line["error"] is NSNull, "\(name)")
            // The parsed object is in sluice.output, and it matches the schema.
            let output = try #require(Self.sluice(line)["output"] as? [String: Any], "\(name)")
            let text = String(decoding: try JSONSerialization.data(withJSONObject: output), as: UTF8.self)
            #expect(schema.problems(try JSONValue.parse(text)).isEmpty)
        }
        #expect(Self.sluice(try #require(byDocument["once.md"]))["attempts"] as? Int == 2)
        let never = try #require(byDocument["never.md"])
        let error = try #require(never["error"] as? [String: Any])
        #expect(error["code"] as? String == "invalid_output")
        #expect((error["message"] as? String ?? "").contains("the required field"))
        #expect(Self.sluice(never)["attempts"] as? Int == 3 && Self.sluice(never)["output"] is NSNull)
        // The broken reply is kept for the user to see.
        #expect((never["response"] as? [String: Any])?["status_code"] as? Int == 200)
        #expect(summary.failuresByClass["invalid_output"] == 1 && summary.invalidOutputs == 3)
        // Every reply was paid for, so every one is in the spend record: 1 + 2 + 3 calls.
        let spend = try await harness.queue.spendReport(documents: 3)
        #expect(spend.calls == 6 && harness.server.statistics.completed == 6)
        let calls = Dictionary(uniqueKeysWithValues: spend.dearest.map { ($0.document, $0.calls) })
        #expect(calls == ["good.md": 1, "once.md": 2, "never.md": 3])
    }

    static let summarizeYAML = """
        name: digest
        model: gpt-4o-mini
        max_tokens: 40
        chunking: {max_tokens: 120}
        messages:
          - role: user
            content: "Summarize part {{chunk.number}}: {{chunk.text}}"
        reduce:
          max_tokens: 60
          max_input_tokens: 260
          messages:
            - role: user
              content: "Combine{{#reduce.final}} for the document{{/reduce.final}}: {{#results}}[{{number}}] {{text}} {{/results}}"
        """

    @Test func reduceCombinesEveryDocumentsChunksOnceRecursivelyWhenTheyAreLong() async throws {
        let harness = try await Harness(replyTokens: 30)
        let sizes = ["one.md": 1, "four.md": 4, "many.md": 14]
        for (name, paragraphs) in sizes {
            try harness.directory.write(
                "docs/\(name)",
                DocumentFactory.document(seed: paragraphs, paragraphs: paragraphs, wordsPerParagraph: 70))
        }
        let pipeline = try PipelineFile.parse(Self.summarizeYAML, file: "digest.yaml", defaultName: "digest")
        try await harness.enqueue(pipeline)
        let summary = try await harness.run()
        #expect(summary.pending == 0 && summary.chunksFailed == 0 && summary.reduceFailed == 0)
        let lines = try harness.lines()
        #expect(lines.allSatisfy { $0["error"] is NSNull })
        for name in sizes.keys {
            let mine = lines.filter { Self.sluice($0)["document"] as? String == name }
            let chunks = mine.filter { Self.sluice($0)["kind"] as? String == "chunk" }
            let documents = mine.filter { Self.sluice($0)["kind"] as? String == "document" }
            let chunkCount = try #require(chunks.first.flatMap { Self.sluice($0)["chunks"] as? Int })
            #expect(chunks.count == chunkCount, "\(name)")
            #expect(documents.count == 1, "\(name): one document line")
            // A join on (document, chunk) finds each chunk once: reduce and document lines are no chunk's.
            let numbers = chunks.compactMap { Self.sluice($0)["chunk"] as? Int }
            #expect(numbers.sorted() == Array(0..<chunkCount), "\(name): \(numbers)")
            #expect(
                mine.filter { Self.sluice($0)["kind"] as? String != "chunk" }.allSatisfy {
                    Self.sluice($0)["chunk"] is NSNull
                }, "\(name)")
            // The document's cost is every call behind it: chunks, intermediate reduces and its own.
            let total = mine.reduce(0.0) {
                $0 + ((Self.sluice($1)["cost"] as? [String: Any])?["total"] as? Double ?? 0)
            }
            let documentCost = try #require(documents.first.flatMap { Self.sluice($0)["document_cost"] as? Double })
            #expect(abs(documentCost - total) < 1e-8, "\(name)")
            // The document line comes after every chunk line of the document.
            let positions = lines.indices.filter { Self.sluice(lines[$0])["document"] as? String == name }
            #expect(Self.sluice(lines[try #require(positions.last)])["kind"] as? String == "document")
        }
        // Fourteen chunk summaries do not fit a 260-token reduce prompt: reduced in groups first.
        let many = lines.filter { Self.sluice($0)["document"] as? String == "many.md" }
        let intermediate = many.filter { Self.sluice($0)["kind"] as? String == "reduce" }
        #expect(intermediate.count >= 2)
        #expect(summary.reduceCalls == intermediate.count + 3)
        // Nothing is paid twice: each request went out once, and a second run sends nothing.
        #expect(harness.server.statistics.requestsByClientID.values.allSatisfy { $0 == 1 })
        #expect(harness.server.statistics.completed == lines.count)
        let again = try await harness.run()
        #expect(try again.calls == 0 && harness.lines().count == lines.count)
    }

    @Test func aDocumentWithAFailedChunkGetsNoSummaryAndSaysWhy() async throws {
        let harness = try await Harness()
        try harness.directory.write(
            "docs/ok.md", DocumentFactory.document(seed: 1, paragraphs: 3, wordsPerParagraph: 70))
        try harness.directory.write(
            "docs/filtered.md",
            DocumentFactory.document(seed: 2, paragraphs: 2, wordsPerParagraph: 70) + "\n\nSLUICE-CONTENT-FILTER\n")
        let pipeline = try PipelineFile.parse(Self.summarizeYAML, file: "digest.yaml", defaultName: "digest")
        try await harness.enqueue(pipeline)
        let summary = try await harness.run()
        let lines = try harness.lines()
        let documents = lines.filter { Self.sluice($0)["kind"] as? String == "document" }
        #expect(documents.map { Self.sluice($0)["document"] as? String } == ["ok.md"])
        #expect(summary.failuresByClass["content_filter"] == 1 && summary.failuresByClass["incomplete"] == 1)
        let failed = try await harness.queue.failures(limit: 10)
        #expect(
            failed.contains {
                $0.stage == .reduce && $0.message.contains("filtered.md") && $0.message.contains("content_filter")
            })
    }

    @Test func aReduceThatCannotShrinkFailsInsteadOfLoopingForever() async throws {
        let harness = try await Harness(replyTokens: 30)
        try harness.directory.write(
            "docs/a.md", DocumentFactory.document(seed: 3, paragraphs: 3, wordsPerParagraph: 70))
        let yaml = Self.summarizeYAML.replacingOccurrences(of: "max_input_tokens: 260", with: "max_input_tokens: 64")
        try await harness.enqueue(try PipelineFile.parse(yaml, file: "digest.yaml", defaultName: "digest"))
        let summary = try await harness.run()
        #expect(summary.pending == 0 && summary.failuresByClass["context_overflow"] == 1)
        let failed = try await harness.queue.failures(limit: 5)
        #expect(failed.contains { $0.stage == .reduce && $0.message.contains("no two results fit one 64-token") })
        #expect(try harness.lines().allSatisfy { Self.sluice($0)["kind"] as? String == "chunk" })
    }

    @Test func theBudgetStopsNewCallsBeforeTheLimitAndAResumeFinishes() async throws {
        let harness = try await Harness()
        for index in 0..<40 {
            try harness.directory.write(
                "docs/d\(index).md", DocumentFactory.document(seed: index, paragraphs: 1, wordsPerParagraph: 60))
        }
        let pipeline = try PipelineFile.parse(PipelineRunTests.yaml, file: "test.yaml", defaultName: "test")
        try await harness.enqueue(pipeline)
        let limit = 0.0003
        let stopped = try await harness.run(maxCost: limit, concurrency: 4)
        let reason = try #require(stopped.stoppedBecause)
        #expect(reason.contains("budget") && reason.contains("--max-cost $0.00"))
        #expect(stopped.pending > 0 && stopped.calls > 0 && stopped.calls < 40)
        let spend = try await harness.queue.spendReport(documents: 1)
        #expect(spend.total <= limit && spend.total > 0 && spend.calls == stopped.calls)
        // The spend so far counts against the same limit on the next run: nothing more is admitted.
        let blocked = try await harness.run(maxCost: spend.total)
        #expect(blocked.calls == 0 && blocked.stoppedBecause != nil)
        let finished = try await harness.run(maxCost: 1)
        #expect(finished.pending == 0 && finished.stoppedBecause == nil)
        let lines = try harness.lines()
        #expect(lines.count == 40 && Set(lines.compactMap { $0["custom_id"] as? String }).count == 40)
        #expect(harness.server.statistics.completed == 40)
    }

    @Test func modelRouterCallsArePricedByTheModelThatServedThem() async throws {
        let harness = try await Harness(model: "model-router")
        for index in 0..<6 {
            try harness.directory.write(
                "docs/d\(index).md",
                DocumentFactory.document(seed: index, paragraphs: 1, wordsPerParagraph: 20 + index * 7))
        }
        var pipeline = try PipelineFile.parse(PipelineRunTests.yaml, file: "test.yaml", defaultName: "test")
        pipeline.model = "model-router"
        try await harness.enqueue(pipeline)
        _ = try await harness.run()
        let catalog = ModelCatalog.builtIn
        var served = Set<String>()
        for line in try harness.lines() {
            let sluice = Self.sluice(line)
            let model = try #require(sluice["model"] as? String)
            let usage = try #require(sluice["usage"] as? [String: Any])
            let cost = try #require(sluice["cost"] as? [String: Any])
            let expected = try #require(
                catalog.cost(
                    of: Usage(
                        promptTokens: usage["prompt_tokens"] as? Int ?? 0,
                        completionTokens: usage["completion_tokens"] as? Int ?? 0, totalTokens: 0),
                    servedModel: model, deployedModel: "model-router", tier: .global))
            #expect(cost["model"] as? String == expected.pricedModel && expected.pricedModel != "model-router")
            #expect(abs((cost["total"] as? Double ?? 0) - expected.total) < 1e-9)
            served.insert(expected.pricedModel)
        }
        #expect(served.count >= 2)
    }

    @Test func reasoningModelsReportTheirHiddenTokens() async throws {
        let harness = try await Harness(model: "o4-mini")
        try harness.directory.write(
            "docs/a.md", DocumentFactory.document(seed: 1, paragraphs: 2, wordsPerParagraph: 40))
        let pipeline = try PipelineFile.parse(
            """
            model: o4-mini
            max_completion_tokens: 200
            chunking: {max_tokens: 200}
            messages: [{role: user, content: "{{chunk.text}}"}]
            """, file: "r.yaml", defaultName: "r")
        try await harness.enqueue(pipeline)
        _ = try await harness.run()
        let spend = try await harness.queue.spendReport(documents: 1)
        #expect(spend.lines.first?.reasoningTokens ?? 0 > 0)
        for line in try harness.lines() {
            let usage = try #require(Self.sluice(line)["usage"] as? [String: Any])
            #expect(usage["reasoning_tokens"] as? Int ?? 0 > 0)
            #expect(usage["completion_tokens"] as? Int ?? 0 > usage["reasoning_tokens"] as? Int ?? 0)
        }
    }

    /// The shipped pipelines on the shipped samples: each runs clean, and its estimate's input tokens
    /// are exactly the prompt tokens the simulator billed for its chunk calls.
    @Test(arguments: ["extract", "classify", "translate", "summarize"])
    func shippedPipelinesRunOnTheSamplesAndTheirEstimateIsExact(_ name: String) async throws {
        let file = Self.root.appendingPathComponent("Pipelines/\(name).yaml").path
        var pipeline = try PipelineFile.load(file)
        let samples = Self.root.appendingPathComponent("samples/documents").path
        let harness = try await Harness(model: pipeline.model, replyTokens: 40)
        if name == "translate" { pipeline.variables["language"] = "German" }
        let scan = try await Estimator.scan(root: samples, pipeline: pipeline, catalog: .builtIn)
        try await harness.enqueue(pipeline, root: samples)
        let summary = try await harness.run()
        #expect(summary.pending == 0 && summary.failuresByClass.isEmpty, "\(summary.failuresByClass)")
        let lines = try harness.lines()
        let chunkLines = lines.filter { Self.sluice($0)["kind"] as? String == "chunk" }
        #expect(chunkLines.count == scan.calls && scan.calls == summary.chunks)
        let billed = chunkLines.reduce(0) {
            $0 + ((Self.sluice($1)["usage"] as? [String: Any])?["prompt_tokens"] as? Int ?? 0)
        }
        #expect(billed == scan.inputTokens)
        if pipeline.reduce == nil { #expect(harness.server.statistics.billedPromptTokens == scan.inputTokens) }
        if pipeline.responseFormat != nil {
            #expect(chunkLines.allSatisfy { Self.sluice($0)["output"] is [String: Any] })
        }
        if name == "summarize" {
            #expect(lines.filter { Self.sluice($0)["kind"] as? String == "document" }.count == summary.documents)
        }
    }
}
