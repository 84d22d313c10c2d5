import Call
import Catalog
import Foundation
import Pipeline
import Queue
import Scheduler
import Simulator
import SluiceCore

/// How good `sluice estimate` is: it estimates a corpus, then the same corpus is run against the
/// simulator at a quota, and the estimate is compared with what the simulator billed and how long
/// the run took (in simulated time).
package struct EstimateBenchmark: Sendable {
    package enum Scenario: String, Sendable, Codable, CaseIterable {
        /// Standard, 100,000 TPM (RPM derived): time is set by the quota charge (prompt + max_tokens).
        case standard
        /// Provisioned, 100,000 tokens/min of capacity: time is set by prompt + output × weight, so
        /// the expected output comes from a sample run.
        case provisioned
    }

    package struct Report: Sendable, Codable {
        package var scenario: Scenario
        package var documents: Int
        package var calls: Int
        package var estimatedInputTokens: Int
        package var billedPromptTokens: Int
        package var estimatedSeconds: Double
        /// Simulated seconds from the start of the run to its end.
        package var measuredSeconds: Double
        package var outputRatio: Double
        package var estimatedCost: Double?
        package var recordedCost: Double
        package var speedUp: Double

        package var timeError: Double { estimatedSeconds / measuredSeconds - 1 }
    }

    package let scenario: Scenario
    package let documents: Int
    package let speedUp: Double

    package init(scenario: Scenario, documents: Int = 240, speedUp: Double = 5) {
        self.scenario = scenario
        self.documents = documents
        self.speedUp = speedUp
    }

    static let pipelineYAML = """
        name: estimate-bench
        model: gpt-4o-mini
        max_tokens: 300
        temperature: 0
        chunking: {max_tokens: 600, overlap: 40}
        messages:
          - role: system
            content: You summarize business documents in three sentences. Keep names, numbers and dates.
          - role: user
            content: |
              Document: {{document.path}} (part {{chunk.number}} of {{chunk.count}})

              {{chunk.text}}
        """

    package func run(directory: String, progress: @Sendable (String) -> Void) async throws -> Report {
        try? FileManager.default.removeItem(atPath: directory)
        let documentsPath = directory + "/documents"
        try FileManager.default.createDirectory(atPath: documentsPath, withIntermediateDirectories: true)
        // Documents of one to eight chunks, each different.
        for index in 0..<documents {
            var text = "# Operations report \(index)\n\n"
            for paragraph in 0..<(1 + (index * 7) % 8) {
                text += "## Site \(paragraph + 1)\n\n"
                let sentences = (0..<14).map { sentence in
                    "In week \(paragraph + 1) the hub \(index % 23) moved \((index * 37 + paragraph * 11 + sentence) % 991) pallets, "
                        + "and customs cleared shipment \(sentence + index) after checking invoice \(index * 100 + sentence)."
                }
                text += sentences.joined(separator: " ") + "\n\n"
            }
            try Data(text.utf8).write(to: URL(fileURLWithPath: "\(documentsPath)/report-\(index).md"))
        }
        let pipeline = try PipelineFile.parse(
            Self.pipelineYAML, file: "estimate-bench.yaml", defaultName: "estimate-bench")
        let simulated: SimulatorConfiguration.Deployment
        let quota: DeploymentQuota
        let billing: Billing
        switch scenario {
        case .standard:
            let (kind, _) = DeploymentQuota.Kind.standard(
                tokensPerMinute: 100_000, requestsPerMinute: nil, model: pipeline.model)
            guard case .standard(_, let rpm?) = kind else { throw SluiceError(.invalidConfiguration, "no RPM") }
            simulated = .init(
                name: "paygo", kind: .standard(tokensPerMinute: 100_000, requestsPerMinute: rpm, rpmWindowSeconds: 1),
                model: pipeline.model)
            quota = DeploymentQuota(name: "paygo", kind: kind, maxConcurrency: 64)
            billing = .perToken(.global)
        case .provisioned:
            simulated = .init(
                name: "ptu", kind: .provisioned(tokensPerMinute: 100_000, outputTokenWeight: 4, bucketSeconds: 10),
                model: pipeline.model)
            quota = DeploymentQuota(
                name: "ptu", kind: .provisioned(ptu: nil, tokensPerMinute: 100_000), maxConcurrency: 256)
            billing = .provisioned(ptu: nil, type: "global")
        }
        let server = try await SimulatorServer.start(
            configuration: SimulatorConfiguration(
                deployments: [simulated], defaultKind: nil, baseLatency: 1.0, perTokenLatency: 0.01, speedUp: speedUp,
                replyTokens: 150))
        let catalog = ModelCatalog.builtIn
        // The estimate, as `sluice estimate --sample 20` makes it.
        let scan = try await Estimator.scan(
            root: documentsPath, pipeline: pipeline, catalog: catalog, sampleSize: 20)
        let client = ChatCompletionClient(connectionsPerHost: 256)
        let configuration = RunConfiguration(
            outputPath: directory + "/bench.jsonl", simulated: [(simulated, quota)], endpoint: server.endpoint,
            speedUp: speedUp, timeoutSeconds: 60)
        guard let deployment = configuration.deployments[quota.name] else {
            throw SluiceError(.invalidConfiguration, "no deployment '\(quota.name)'")
        }
        let sample = await Estimator.sample(scan.samples, to: deployment, client: client)
        let ratio = sample.outputRatio(maxTokens: pipeline.maxTokens, n: pipeline.n) ?? 0.5
        let estimate = try Estimator.estimate(
            scan, pipeline: pipeline,
            targets: [Estimator.Target(name: quota.name, model: pipeline.model, kind: quota.kind, billing: billing)],
            catalog: catalog, outputRatio: ratio, outputRatioSource: "sample of \(sample.answered.count)")
        progress(
            "\(scan.documents) documents, \(scan.calls) calls, \(scan.inputTokens) input tokens; estimated \(Int(estimate.expectedSeconds ?? 0)) simulated seconds; running at \(speedUp)× speed"
        )
        // Let the sample's quota use drain before the run, so the run starts from an idle deployment.
        try await Task.sleep(for: .seconds(62 / speedUp))
        let sampledPrompts = server.statistics.billedPromptTokens
        let databasePath = directory + "/bench.db"
        let queue = try SQLiteJobQueue(path: databasePath)
        _ = try await Enqueuer(queue: queue).enqueue(root: documentsPath, pipeline: pipeline)
        var runConfiguration = configuration
        runConfiguration.models = [quota.name: pipeline.model]
        runConfiguration.billing = [quota.name: billing]
        let runner = PipelineRunner(
            queue: queue, databasePath: databasePath, configuration: runConfiguration, client: client)
        let started = ContinuousClock.now
        let summary = try await runner.run { _ in }
        let elapsed = ContinuousClock.now - started
        let statistics = server.statistics
        try await client.shutdown()
        try await server.stop()
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return Report(
            scenario: scenario, documents: scan.documents, calls: summary.calls,
            estimatedInputTokens: scan.inputTokens, billedPromptTokens: statistics.billedPromptTokens - sampledPrompts,
            estimatedSeconds: estimate.expectedSeconds ?? 0, measuredSeconds: seconds * speedUp, outputRatio: ratio,
            estimatedCost: estimate.deployments.first?.costExpected, recordedCost: summary.spend.total,
            speedUp: speedUp)
    }
}

extension EstimateBenchmark.Report {
    /// A summary for people.
    package func formatted() -> String {
        [
            "scenario \(scenario.rawValue): \(documents) documents, \(calls) calls, at \(speedUp)× speed",
            "  input tokens: estimated \(estimatedInputTokens), billed by the simulator \(billedPromptTokens)"
                + (estimatedInputTokens == billedPromptTokens ? " (exact)" : " (DIFFERENT)"),
            String(
                format: "  time: estimated %.1f s, measured %.1f s (simulated): %+.1f%%", estimatedSeconds,
                measuredSeconds, timeError * 100),
            String(format: "  expected output: %.1f%% of max_tokens (sample of 20)", outputRatio * 100),
            "  cost at list price: estimated "
                + (estimatedCost.map { String(format: "$%.4f", $0) } ?? "n/a (provisioned: PTU-hours)")
                + String(format: ", recorded $%.4f", recordedCost),
        ].joined(separator: "\n")
    }
}
