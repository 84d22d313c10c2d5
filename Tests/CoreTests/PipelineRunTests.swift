import Call
import Foundation
import Pipeline
import Queue
import Simulator
import SluiceCore
import SluiceTesting
import Testing

/// Whole runs in process: real SQLite file, real simulator over HTTP, real documents.
@Suite struct PipelineRunTests {
    static let yaml = """
        name: test
        model: gpt-4o-mini
        max_tokens: 30
        chunking: {max_tokens: 150, overlap: 0}
        messages:
          - role: system
            content: Summarize {{document.name}}.
          - role: user
            content: "{{chunk.text}}"
        """

    struct Harness {
        let directory: TemporaryDirectory
        let server: SimulatorServer
        let queue: SQLiteJobQueue
        var pipeline: PipelineDefinition

        init(faults: SimulatorConfiguration.Faults = .none, seed: UInt64 = 1) async throws {
            directory = try TemporaryDirectory()
            server = try await SimulatorServer.start(
                configuration: SimulatorConfiguration(
                    baseLatency: 0.005, perTokenLatency: 0, replyTokens: 10, faults: faults, seed: seed))
            queue = try SQLiteJobQueue(path: directory.file("queue.db"))
            pipeline = try PipelineFile.parse(PipelineRunTests.yaml, file: "test.yaml", defaultName: "test")
        }

        func enqueue() async throws -> EnqueueSummary {
            try await Enqueuer(queue: queue).enqueue(root: directory.file("docs"), pipeline: pipeline).1
        }

        func run() async throws -> RunSummary {
            let deployment = Deployment(
                name: "sim", endpoint: server.endpoint, api: .azure(apiVersion: "2024-10-21"), deployment: "sim",
                authentication: .apiKey("sim-key"), timeoutSeconds: 2, maxConcurrency: 8)
            let client = ChatCompletionClient()
            let runner = PipelineRunner(
                queue: queue, databasePath: directory.file("queue.db"),
                configuration: RunConfiguration(
                    outputPath: directory.file("out.jsonl"), deployments: ["sim": deployment],
                    retry: RetryPolicy(maxAttempts: 8, baseSeconds: 0.01, capSeconds: 0.05), progressInterval: 60),
                client: client)
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

    @Test func runWritesOneLinePerChunkAndResumesWithoutRepeating() async throws {
        let harness = try await Harness()
        for index in 0..<6 {
            try harness.directory.write(
                "docs/d\(index).md", DocumentFactory.document(seed: index, paragraphs: 1 + index, wordsPerParagraph: 40)
            )
        }
        let first = try await harness.enqueue()
        #expect(first.new == 6)
        let summary = try await harness.run()
        let lines = try harness.lines()
        #expect(summary.chunks == lines.count && summary.chunksFailed == 0 && summary.pending == 0)
        #expect(summary.calls == lines.count)
        #expect(Set(lines.compactMap { $0["custom_id"] as? String }).count == lines.count)
        let sluice = try #require(lines.first?["sluice"] as? [String: Any])
        for field in [
            "document", "document_sha256", "chunk", "chunks", "pipeline", "deployment", "model", "attempts",
            "latency_ms", "usage",
        ] {
            #expect(sluice[field] != nil, "sluice.\(field)")
        }
        let response = try #require(lines.first?["response"] as? [String: Any])
        #expect(response["status_code"] as? Int == 200)
        #expect((response["body"] as? [String: Any])?["object"] as? String == "chat.completion")

        // Unchanged: nothing new, no call.
        let again = try await harness.enqueue()
        #expect(again.new == 0 && again.changed == 0 && again.unchanged == 6)
        let second = try await harness.run()
        #expect(second.calls == 0)
        #expect(try harness.lines().count == lines.count)

        // A changed file creates new work for that document only.
        try harness.directory.write(
            "docs/d0.md", DocumentFactory.document(seed: 100, paragraphs: 1, wordsPerParagraph: 40))
        #expect(try await harness.enqueue().changed == 1)
        let third = try await harness.run()
        #expect(third.calls == 1)

        // A renamed file is a new document but the same unit of work: its result is reused, not paid again.
        try FileManager.default.moveItem(
            atPath: harness.directory.file("docs/d1.md"), toPath: harness.directory.file("docs/renamed.md"))
        let renamed = try await harness.enqueue()
        #expect(renamed.new == 1 && renamed.deleted == 1)
        let fourth = try await harness.run()
        #expect(fourth.calls == 0 && fourth.reused >= 1)
        #expect(harness.server.statistics.completed == lines.count + 1)
    }

    @Test func aChangedPromptCreatesNewWork() async throws {
        var harness = try await Harness()
        try harness.directory.write("docs/a.txt", "One short document.")
        _ = try await harness.enqueue()
        #expect(try await harness.run().calls == 1)
        harness.pipeline.messages[0].template = "Summarize {{document.name}} in one sentence."
        _ = try await harness.enqueue()
        #expect(try await harness.run().calls == 1)
        #expect(try harness.lines().count == 2)
    }

    @Test func faultsEndAsSuccessesOrClassifiedFailuresAndTheRunGoesOn() async throws {
        var faults = SimulatorConfiguration.Faults()
        faults.serverError = 0.15
        faults.serviceUnavailable = 0.05
        faults.truncatedJSON = 0.1
        faults.connectionReset = 0.1
        faults.stall = 0.03
        faults.stallSeconds = 3  // past the harness's 2-second timeout
        let harness = try await Harness(faults: faults, seed: 11)
        for index in 0..<20 {
            try harness.directory.write(
                "docs/d\(index).txt", DocumentFactory.document(seed: index, paragraphs: 2, wordsPerParagraph: 30))
        }
        try harness.directory.write("docs/blocked.txt", "Please summarize SLUICE-CONTENT-FILTER now.")
        try harness.directory.write("docs/binary.txt", Data([0x7F, 0x45, 0x4C, 0x46, 0x00, 0x02, 0x01, 0xFF]))
        _ = try await harness.enqueue()
        let summary = try await harness.run()
        #expect(summary.failuresByClass["content_filter"] == 1)
        #expect(summary.failuresByClass["unreadable_document"] == 1)
        #expect(summary.chunksSucceeded == summary.chunks - 1)
        let lines = try harness.lines()
        #expect(lines.count == summary.chunks)
        let failed = lines.filter { !($0["error"] is NSNull) }
        #expect(failed.count == 1)
        let error = try #require(failed.first?["error"] as? [String: Any])
        #expect(error["code"] as? String == "content_filter")
        #expect(failed.first?["response"] is NSNull)
        #expect(lines.contains { (($0["sluice"] as? [String: Any])?["attempts"] as? Int ?? 0) > 1 })
        let failures = try await harness.queue.failures(limit: 10)
        #expect(failures.contains { $0.key.contains("binary.txt") && $0.message.contains("binary data") })
    }

    @Test func malformedPipelinesNameFileLineAndField() throws {
        let cases: [(String, String)] = [
            ("model: gpt-4o\nmax_tokens: -1\nmessages: [{role: user, content: x}]", "test.yaml:2: field 'max_tokens'"),
            ("model: gpt-4o\nmax_tokens: 10\nmessages: [{role: robot, content: x}]", "field 'messages[0].role'"),
            (
                "model: gpt-4o\nmax_tokens: 10\ntemprature: 1\nmessages: [{role: user, content: x}]",
                "test.yaml:3: unknown field 'temprature'"
            ),
            ("max_tokens: 10\nmessages: [{role: user, content: x}]", "field 'model' is required"),
            (
                "model: gpt-4o\nmax_tokens: 10\nchunking: {max_tokens: 100, overlap: 90}\nmessages: [{role: user, content: x}]",
                "field 'chunking.overlap'"
            ),
        ]
        for (yaml, message) in cases {
            do {
                _ = try PipelineFile.parse(yaml, file: "test.yaml", defaultName: "t")
                Issue.record("accepted: \(yaml)")
            } catch let error as SluiceError {
                #expect(error.message.contains(message), "\(error.message)")
            }
        }
    }
}

/// Chunks carry the heading path and page where they start, into templates and the JSONL.
@Suite struct StructureTests {
    @Test func outlineGivesHeadingPathsAndPages() {
        let text = "# Guide\n\nIntro.\n\n## Installation\n\nSteps.\n\n### Linux\n\nApt.\n\n## Usage\n\nRun it."
        let blocks = TextBlock.blocks(of: text, format: "md")
        // The blocks give back the text they were read from, so outline offsets are offsets in it.
        #expect(TextBlock.text(of: blocks) == text)
        #expect(blocks.allSatisfy { $0.renderedLength == $0.rendered.utf8.count })
        let outline = DocumentOutline(blocks: blocks)
        let offset = { (needle: String) in
            text.utf8.distance(from: text.startIndex, to: text.range(of: needle)!.lowerBound)
        }
        #expect(outline.position(at: offset("Intro")).headingPath == ["Guide"])
        #expect(outline.position(at: offset("Apt")).headingPath == ["Guide", "Installation", "Linux"])
        #expect(outline.position(at: offset("Run it")).headingPath == ["Guide", "Usage"])
        let slides = "--- Slide 1 ---\n\n## Title\n\nBody\n\n--- Slide 2 ---\n\nMore"
        let pages = DocumentOutline(blocks: TextBlock.blocks(of: slides, format: "pptx"))
        #expect(pages.position(at: slides.utf8.count - 1).page == 2)
        #expect(pages.position(at: 20).page == 1)
    }

    @Test func linesCarryHeadingPathAndPage() async throws {
        let harness = try await PipelineRunTests.Harness()
        let body = (0..<12).map {
            "Paragraph \($0) explains one step of the installation in some detail for the reader."
        }
        let guide = "# Guide\n\n## Installation\n\n### Linux\n\n" + body.joined(separator: "\n\n")
        try harness.directory.write("docs/guide.md", guide)
        _ = try await harness.enqueue()
        _ = try await harness.run()
        let lines = try harness.lines()
        #expect(lines.count >= 2)
        let paths = lines.compactMap { ($0["sluice"] as? [String: Any])?["heading_path"] as? String }
        #expect(paths.contains("Guide > Installation > Linux"))
    }
}
