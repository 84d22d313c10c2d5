import Foundation
import SluiceTesting
import Testing

/// `sluice estimate`, the context check at enqueue and `--max-cost`, as a user runs them.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct EstimateCommandTests {
    static let pipeline = """
        name: estimate-test
        model: gpt-4o-mini
        max_tokens: 50
        chunking: {max_tokens: 200}
        messages:
          - role: system
            content: Summarize {{document.name}}.
          - role: user
            content: "{{chunk.text}}"
        """

    func corpus(_ directory: TemporaryDirectory, documents: Int) throws {
        for index in 0..<documents {
            try directory.write(
                "docs/d\(index).md",
                DocumentFactory.document(seed: index, paragraphs: 1 + index % 4, wordsPerParagraph: 50))
        }
        try directory.write("pipeline.yaml", Self.pipeline)
    }

    @Test func aChunkThatCannotFitTheContextIsAnErrorAtEnqueueSayingByHowMuch() async throws {
        let directory = try TemporaryDirectory()
        try corpus(directory, documents: 3)
        try directory.write(
            "big.yaml",
            Self.pipeline.replacingOccurrences(of: "model: gpt-4o-mini", with: "model: gpt-35-turbo")
                .replacingOccurrences(of: "max_tokens: 50", with: "max_tokens: 4000")
                .replacingOccurrences(of: "chunking: {max_tokens: 200}", with: "chunking: {max_tokens: 13000}"))
        let database = directory.file("queue.db")
        let result = try await SluiceProcess.run([
            "enqueue", directory.file("docs"), "--pipeline", directory.file("big.yaml"), "--db", database,
        ])
        #expect(result.status == 3)
        #expect(result.stderr.contains("big.yaml") && result.stderr.contains("context of 16385"), "\(result.stderr)")
        let over = try #require(result.stderr.firstMatch(of: /(\d+) tokens over/)?.1)
        #expect(Int(over) ?? 0 > 600)
        // Nothing was enqueued, so nothing can be sent.
        let status = try await SluiceProcess.run(["status", "--db", database])
        #expect(status.stdout.contains("documents: none"))
        // The same check with a catalog override in deployments.yaml next to the database: more context fits.
        try directory.write(
            "deployments.yaml", "models:\n  gpt-35-turbo: {context: 32000}\ndeployments: {sim: {endpoint: http://x}}\n")
        let fits = try await SluiceProcess.run([
            "enqueue", directory.file("docs"), "--pipeline", directory.file("big.yaml"), "--db", database,
        ])
        #expect(fits.status == 0, "\(fits.stderr)")
    }

    @Test func theEstimateMatchesWhatTheServiceBillsAndTheBudgetStopsTheRun() async throws {
        let directory = try TemporaryDirectory()
        try corpus(directory, documents: 30)
        let simulator = try SimulatorProcess(arguments: ["--latency", "0.01", "--reply-tokens", "20"])
        let database = directory.file("queue.db")
        let common = [
            "--pipeline", directory.file("pipeline.yaml"), "--db", database, "--endpoint", simulator.endpoint,
            "--deployment", "sim", "--tpm", "60000",
        ]
        let estimate = try await SluiceProcess.run(["estimate", directory.file("docs"), "--json"] + common)
        #expect(estimate.status == 0, "\(estimate.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(estimate.stdout.utf8)) as? [String: Any])
        let input = try #require(json["input_tokens"] as? Int)
        let calls = try #require(json["calls"] as? Int)
        let seconds = try #require(json["expected_seconds"] as? Double)
        let charge = try #require(json["charge"] as? Int)
        #expect(abs(seconds - Double(charge) / 60_000 * 60) < 1e-6)
        let deployments = try #require(json["deployments"] as? [[String: Any]])
        #expect(deployments.first?["cost_expected"] as? Double ?? 0 > 0)

        // A budget far below the estimate stops the run early, with work left and a reason.
        let environment = ["AZURE_OPENAI_API_KEY": "sim-key"]
        let stopped = try await SluiceProcess.run(
            ["run", directory.file("docs"), "--max-cost", "0.0002", "--concurrency", "2"] + common,
            environment: environment)
        #expect(stopped.status == 2, "\(stopped.stderr)")
        #expect(stopped.stderr.contains("--max-cost $0.00") && stopped.stderr.contains("stopped early: budget"))
        let status = try await SluiceProcess.run(["status", "--db", database])
        #expect(status.stdout.contains("cost: $0.0"), "\(status.stdout)")

        // Without a limit it finishes: the prompt tokens billed are the estimate's, to the token.
        let finished = try await SluiceProcess.run(["run"] + common, environment: environment)
        #expect(finished.status == 0, "\(finished.stderr)")
        let stats = try await simulator.statistics()
        #expect(stats["billedPromptTokens"] as? Int == input)
        #expect(stats["completed"] as? Int == calls)
        // What is done is left out of a new estimate.
        let after = try await SluiceProcess.run(["estimate", directory.file("docs"), "--json"] + common)
        let rest = try #require(try JSONSerialization.jsonObject(with: Data(after.stdout.utf8)) as? [String: Any])
        #expect(rest["calls"] as? Int == 0 && rest["already_done"] as? Int == calls)
    }
}
