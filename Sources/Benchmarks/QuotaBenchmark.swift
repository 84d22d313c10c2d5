import Call
import Foundation
import Pipeline
import Queue
import Scheduler
import Simulator
import SluiceCore

/// `sluice bench quota`: how much of a deployment's quota a real run uses, against the simulator
/// with Azure's rules (TPM charged at arrival with the estimate, RPM over 1-second windows; PTU as a
/// leaky bucket), with simulated time sped up.
///
/// Documents are chunked into ~1,000-token prompts with max_tokens 300 (replies average 150). The run
/// is stopped after `minutes` simulated minutes; the first minute (ramp-up) is left out of the
/// steady-state figures.
public struct QuotaBenchmark: Sendable {
    public enum Scenario: String, Sendable, Codable, CaseIterable {
        /// One standard deployment: 300,000 TPM, 1,800 RPM.
        case standard
        /// One provisioned deployment with 200,000 tokens/min of capacity (output tokens weigh 4).
        case provisioned
        /// Provisioned (150,000/min, priority 1) and standard (300,000 TPM, priority 2) in one pool.
        case pool
    }

    public struct Minute: Sendable, Codable {
        public var minute: Int
        public var deployment: String
        public var requests: Int
        public var rateLimited: Int
        public var admittedTokens: Int
        public var processedTokens: Int
    }

    public struct Report: Sendable, Codable {
        public var scenario: Scenario
        public var speedUp: Double
        public var simulatedMinutes: Double
        public var minutes: [Minute]
        /// Steady state (minutes 1 ..< last): share of the TPM charged (standard) and of the capacity
        /// processed (provisioned), per deployment.
        public var utilization: [String: Double]
        /// Steady state: requests answered 429, as a share of all requests, per deployment.
        public var rateLimitedShare: [String: Double]
        public var requests: [String: Int]
        public var rateLimited: [String: Int]
    }

    public var scenario: Scenario
    public var minutes: Int
    public var speedUp: Double

    public init(scenario: Scenario, minutes: Int = 4, speedUp: Double = 20) {
        self.scenario = scenario
        self.minutes = max(2, minutes)
        self.speedUp = speedUp
    }

    static let pipelineYAML = """
        name: quota-bench
        model: gpt-4o
        max_tokens: 300
        chunking: {max_tokens: 960, overlap: 0}
        messages:
          - role: system
            content: Summarize the passage in three sentences.
          - role: user
            content: "{{chunk.text}}"
        """

    /// (simulated deployment, scheduler quota) pairs for the scenario.
    var deployments: [(SimulatorConfiguration.Deployment, DeploymentQuota)] {
        let standard = (
            SimulatorConfiguration.Deployment(
                name: "paygo", kind: .standard(tokensPerMinute: 300_000, requestsPerMinute: 1_800, rpmWindowSeconds: 1)),
            DeploymentQuota(
                name: "paygo", kind: .standard(tokensPerMinute: 300_000, requestsPerMinute: 1_800), maxConcurrency: 64,
                priority: 2)
        )
        func provisioned(_ tpm: Int) -> (SimulatorConfiguration.Deployment, DeploymentQuota) {
            (
                SimulatorConfiguration.Deployment(
                    name: "ptu", kind: .provisioned(tokensPerMinute: tpm, outputTokenWeight: 4, bucketSeconds: 10)),
                DeploymentQuota(
                    name: "ptu", kind: .provisioned(ptu: nil, tokensPerMinute: tpm), maxConcurrency: 256, priority: 1)
            )
        }
        switch scenario {
        case .standard: return [standard]
        case .provisioned: return [provisioned(200_000)]
        case .pool: return [provisioned(150_000), standard]
        }
    }

    public func run(directory: String, progress: @escaping @Sendable (String) -> Void) async throws -> Report {
        let fileManager = FileManager.default
        try? fileManager.removeItem(atPath: directory)
        let documentsPath = directory + "/documents"
        try fileManager.createDirectory(atPath: documentsPath, withIntermediateDirectories: true)
        // Enough ~1,000-token chunks for the whole run at full quota (with room to spare).
        let capacityPerMinute = deployments.reduce(0) { total, pair in
            switch pair.1.kind {
            case .standard(let tpm, _): return total + (tpm ?? 0) / 1_200
            case .provisioned(_, let tpm): return total + (tpm ?? 0) / 1_400
            }
        }
        let chunks = capacityPerMinute * (minutes + 2) * 3 / 2
        let documents = max(1, chunks / 20)
        for index in 0..<documents {
            var text = "# Report \(index)\n\n"
            for paragraph in 0..<20 {
                let sentences = (0..<12).map { sentence in
                    "In quarter \(paragraph + 1) the hub \(index % 17) moved \((index * 31 + paragraph * 7 + sentence) % 997) pallets of goods, "
                        + "and the customs office cleared shipment \(sentence) after checking every invoice line twice."
                }
                text += sentences.joined(separator: " ") + "\n\n"
                text += String(repeating: "Freight, storage and handling were billed separately. ", count: 18) + "\n\n"
            }
            try Data(text.utf8).write(to: URL(fileURLWithPath: "\(documentsPath)/report-\(index).md"))
        }
        let server = try await SimulatorServer.start(
            configuration: SimulatorConfiguration(
                deployments: deployments.map(\.0), defaultKind: nil, baseLatency: 1.0, perTokenLatency: 0.01,
                speedUp: speedUp, replyTokens: 150))
        let databasePath = directory + "/bench.db"
        let queue = try SQLiteJobQueue(path: databasePath)
        let pipeline = try PipelineFile.parse(Self.pipelineYAML, file: "quota-bench.yaml", defaultName: "quota-bench")
        _ = try await Enqueuer(queue: queue).enqueue(root: documentsPath, pipeline: pipeline)
        progress("\(documents) documents enqueued; running \(minutes) simulated minutes at \(speedUp)× speed")
        let configuration = RunConfiguration(
            outputPath: directory + "/bench.jsonl", simulated: deployments, endpoint: server.endpoint,
            speedUp: speedUp, timeoutSeconds: 60)
        let client = ChatCompletionClient(connectionsPerHost: 256)
        let runner = PipelineRunner(
            queue: queue, databasePath: databasePath, configuration: configuration, client: client)
        // The simulator's minutes count from its start; the run is measured from the minute of its
        // first call (ingest, chunking and rendering come first) and stopped `minutes` later.
        let task = Task { try await runner.run { _ in } }
        while server.statistics.requests == 0 && !task.isCancelled {
            try await Task.sleep(for: .milliseconds(20))
        }
        let first = deployments.compactMap { server.statistics.timeline[$0.0.name]?.keys.min() }.min() ?? 0
        let realSeconds = Double(minutes) * 60 / speedUp
        try await Task.sleep(for: .milliseconds(Int(realSeconds * 1_000)))
        task.cancel()
        _ = try? await task.value
        let statistics = server.statistics
        try await client.shutdown()
        try await server.stop()
        return report(statistics, firstMinute: first)
    }

    func report(_ statistics: SimulatorStatistics, firstMinute: Int) -> Report {
        var rows: [Minute] = []
        var utilization: [String: Double] = [:]
        var share: [String: Double] = [:]
        var requests: [String: Int] = [:]
        var limited: [String: Int] = [:]
        for (simulated, quota) in deployments {
            let timeline = statistics.timeline[simulated.name] ?? [:]
            for minute in timeline.keys.sorted() {
                guard let counters = timeline[minute] else { continue }
                rows.append(
                    Minute(
                        minute: minute - firstMinute, deployment: quota.name, requests: counters.requests,
                        rateLimited: counters.rateLimited, admittedTokens: counters.admittedTokens,
                        processedTokens: counters.drainedTokens))
            }
            // Steady state: whole minutes after the first (which is partial, and ramp-up).
            let steady = ((firstMinute + 1)..<(firstMinute + minutes)).compactMap { timeline[$0] }
            let admitted = steady.reduce(0) { $0 + $1.requests }
            let refused = steady.reduce(0) { $0 + $1.rateLimited }
            requests[quota.name] = admitted + refused
            limited[quota.name] = refused
            share[quota.name] = admitted + refused > 0 ? Double(refused) / Double(admitted + refused) : 0
            switch quota.kind {
            case .standard(let tpm, _):
                let used = steady.reduce(0) { $0 + $1.admittedTokens }
                utilization[quota.name] = Double(used) / Double((tpm ?? 1) * max(1, steady.count))
            case .provisioned(_, let tpm):
                let processed = steady.reduce(0) { $0 + $1.drainedTokens }
                utilization[quota.name] = Double(processed) / Double((tpm ?? 1) * max(1, steady.count))
            }
        }
        return Report(
            scenario: scenario, speedUp: speedUp, simulatedMinutes: Double(minutes), minutes: rows,
            utilization: utilization, rateLimitedShare: share, requests: requests, rateLimited: limited)
    }
}

extension QuotaBenchmark.Report {
    /// A table for people.
    public func formatted() -> String {
        var lines = [
            "scenario \(scenario.rawValue): \(Int(simulatedMinutes)) simulated minutes at \(speedUp)× speed; minute 0 is ramp-up",
            "minute  deployment  requests  429s  charged tokens  processed tokens",
        ]
        for row in minutes {
            lines.append(
                String(row.minute).leftPadded(6) + "  "
                    + row.deployment.padding(toLength: 10, withPad: " ", startingAt: 0)
                    + String(row.requests).leftPadded(10) + String(row.rateLimited).leftPadded(6)
                    + String(row.admittedTokens).leftPadded(16) + String(row.processedTokens).leftPadded(18))
        }
        for name in utilization.keys.sorted() {
            let what = name == "ptu" ? "its capacity processed" : "the TPM charged"
            lines.append(
                "steady state \(name): "
                    + String(format: "%.1f%%", (utilization[name] ?? 0) * 100)
                    + " of \(what), \(rateLimited[name] ?? 0) of \(requests[name] ?? 0) requests answered 429 "
                    + String(format: "(%.2f%%)", (rateLimitedShare[name] ?? 0) * 100))
        }
        return lines.joined(separator: "\n")
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}
