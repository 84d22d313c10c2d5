import Call
import Foundation
import Pipeline
import Queue
import Scheduler
import Simulator
import SluiceCore

/// `sluice-bench quota`: how much of a deployment's quota a real run uses, and how many of its
/// requests are answered 429, against the built-in simulator with Azure's rules (TPM charged at
/// arrival with a character-based estimate + max_tokens, counted per minute; RPM over 1 s or 10 s
/// windows; PTU as a leaky bucket corrected to the usage when each request ends), time sped up.
///
/// The documents mix English and German prose, source code and Chinese (about 16 KB each), where
/// characters / 4 and the token count part ways by a factor of up to four; they are chunked at 600
/// tokens with max_tokens 300 and replies of about 150 tokens (latency 0.3 s + 5 ms per output token).
/// Each scenario runs twice: with Sluice's pacer, and with a naive one that charges its own exact
/// token count + max_tokens and learns nothing (provisioned: the closed loop alone). The run is
/// stopped `minutes` simulated minutes after its first call; that first minute is ramp-up, left out
/// of the steady state.
package struct QuotaBenchmark: Sendable {
    package enum Scenario: String, Sendable, Codable, CaseIterable {
        /// Standard 300,000 TPM / 1,800 RPM (1 s windows); the service's estimate × 0.8, 1 and 1.25.
        case skewLow = "skew-0.8"
        case skewEven = "skew-1.0"
        case skewHigh = "skew-1.25"
        /// The same deployment with no limits given: learned from the headers.
        case noLimits = "no-limits"
        /// Another client spends about 90,000 TPM of the same deployment.
        case shared
        /// RPM enforced over 10-second windows.
        case rpmWindow10 = "rpm-10s"
        /// Tiny prompts: the RPM binds before the TPM.
        case rpmBound = "rpm-bound"
        /// Provisioned: 50 PTU × 2,500 tokens/min = 125,000 tokens/min, an output token weighs 4.
        case provisioned
        /// Provisioned (100,000/min, priority 1) and standard (300,000 TPM, priority 2) in one pool.
        case pool
    }

    /// Which pacer a run uses.
    package enum Pacer: String, Sendable, Codable, CaseIterable {
        /// Sluice's: calibrated charges trued up to the service's counter; PTU on expected cost.
        case sluice
        /// Its own exact token count + max_tokens at face value, nothing learned; PTU: closed loop.
        case naive
    }

    package struct Minute: Sendable, Codable {
        package var minute: Int
        package var deployment: String
        package var requests: Int
        package var rateLimited: Int
        package var admittedTokens: Int
        package var processedTokens: Int
    }

    /// One pacer's run of the scenario.
    package struct Run: Sendable, Codable {
        package var pacer: Pacer
        package var minutes: [Minute]
        /// Steady state, per deployment: share of the TPM charged by all clients (standard), of the
        /// RPM used (rpm-bound), or of the capacity processed (provisioned).
        package var utilization: [String: Double]
        /// Steady state: share of the TPM charged for this run's own requests.
        package var ownShare: [String: Double]
        /// Steady state: this run's requests answered 429, as a share of its requests.
        package var rateLimitedShare: [String: Double]
        package var requests: [String: Int]
        package var rateLimited: [String: Int]
        /// Largest charge admitted in any 10 s, ÷ a sixth of the minute's limit (1 = evenly spread).
        package var burst: [String: Double]
        /// The charge ratio the scheduler learned, at the end.
        package var chargeRatio: [String: Double]
    }

    package struct Report: Sendable, Codable {
        package var scenario: Scenario
        package var speedUp: Double
        package var simulatedMinutes: Double
        package var runs: [Run]

        /// The first run's figures (what tests look at).
        package var utilization: [String: Double] { runs.first?.utilization ?? [:] }
        package var rateLimitedShare: [String: Double] { runs.first?.rateLimitedShare ?? [:] }
        package var requests: [String: Int] { runs.first?.requests ?? [:] }
        package var minutes: [Minute] { runs.first?.minutes ?? [] }
    }

    package var scenario: Scenario
    package var minutes: Int
    package var speedUp: Double
    package var pacers: [Pacer]
    /// The standard deployment's RPM (1,800: the TPM's derived share; lower, the RPM binds sooner).
    package var requestsPerMinute = 1_800

    package init(scenario: Scenario, minutes: Int = 4, speedUp: Double = 5, pacers: [Pacer] = Pacer.allCases) {
        self.scenario = scenario
        self.minutes = max(2, minutes)
        self.speedUp = speedUp
        self.pacers = pacers.isEmpty ? [.sluice] : pacers
    }

    static let textPipeline = """
        name: quota-bench
        model: gpt-4o
        max_tokens: 300
        chunking: {max_tokens: 600, overlap: 0}
        messages:
          - role: system
            content: Summarize the passage in three sentences.
          - role: user
            content: "{{chunk.text}}"
        """

    static let tinyPipeline = """
        name: quota-bench-tiny
        model: gpt-4o
        max_tokens: 16
        chunking: {max_tokens: 40, overlap: 0}
        messages:
          - role: user
            content: "Label: {{chunk.text}}"
        """

    /// (simulated deployment, scheduler quota) pairs for the scenario.
    var deployments: [(SimulatorConfiguration.Deployment, DeploymentQuota)] {
        func standard(window: Double = 1, given: Bool = true) -> (SimulatorConfiguration.Deployment, DeploymentQuota) {
            (
                SimulatorConfiguration.Deployment(
                    name: "paygo",
                    kind: .standard(
                        tokensPerMinute: 300_000, requestsPerMinute: requestsPerMinute, rpmWindowSeconds: window)),
                DeploymentQuota(
                    name: "paygo",
                    kind: .standard(
                        tokensPerMinute: given ? 300_000 : nil, requestsPerMinute: given ? requestsPerMinute : nil),
                    maxConcurrency: 64, priority: 2, requestsPerThousandTokens: 6)
            )
        }
        func provisioned(_ tpm: Int) -> (SimulatorConfiguration.Deployment, DeploymentQuota) {
            (
                SimulatorConfiguration.Deployment(
                    name: "ptu", kind: .provisioned(tokensPerMinute: tpm, outputTokenWeight: 4, bucketSeconds: 10)),
                DeploymentQuota(
                    name: "ptu", kind: .provisioned(ptu: nil, tokensPerMinute: tpm), maxConcurrency: 256, priority: 1,
                    outputTokenWeight: 4)
            )
        }
        switch scenario {
        case .skewLow, .skewEven, .skewHigh, .shared, .rpmBound: return [standard()]
        case .noLimits: return [standard(given: false)]
        case .rpmWindow10: return [standard(window: 10)]
        case .provisioned: return [provisioned(125_000)]
        case .pool: return [provisioned(100_000), standard()]
        }
    }

    var skew: Double {
        switch scenario {
        case .skewLow: 0.8
        case .skewHigh: 1.25
        default: 1
        }
    }

    /// Runs the scenario once per pacer.
    package func run(directory: String, progress: @escaping @Sendable (String) -> Void) async throws -> Report {
        var runs: [Run] = []
        for pacer in pacers {
            runs.append(try await run(pacer: pacer, directory: directory, progress: progress))
        }
        return Report(scenario: scenario, speedUp: speedUp, simulatedMinutes: Double(minutes), runs: runs)
    }

    func run(pacer: Pacer, directory: String, progress: @escaping @Sendable (String) -> Void) async throws -> Run {
        let fileManager = FileManager.default
        try? fileManager.removeItem(atPath: directory)
        let documentsPath = directory + "/documents"
        try fileManager.createDirectory(atPath: documentsPath, withIntermediateDirectories: true)
        let documents = try writeDocuments(to: documentsPath)
        var simulator = SimulatorConfiguration(
            deployments: deployments.map(\.0), defaultKind: nil, baseLatency: 0.3, perTokenLatency: 0.005,
            speedUp: speedUp, replyTokens: 150)
        simulator.charge = .chars
        simulator.chargeSkew = skew
        simulator.recordArrivals = true
        let server = try await SimulatorServer.start(configuration: simulator)
        let databasePath = directory + "/bench.db"
        let queue = try SQLiteJobQueue(path: databasePath)
        let pipeline = try PipelineFile.parse(
            scenario == .rpmBound ? Self.tinyPipeline : Self.textPipeline, file: "quota-bench.yaml",
            defaultName: "quota-bench")
        _ = try await Enqueuer(queue: queue).enqueue(root: documentsPath, pipeline: pipeline)
        progress(
            "\(scenario.rawValue), \(pacer.rawValue) pacer: \(documents) documents enqueued; running \(minutes) simulated minutes at \(speedUp)× speed"
        )
        var configuration = RunConfiguration(
            outputPath: directory + "/bench.jsonl", simulated: deployments, endpoint: server.endpoint,
            speedUp: speedUp, timeoutSeconds: 60)
        configuration.scheduler = SchedulerConfiguration(calibrates: pacer == .sluice)
        let client = ChatCompletionClient(connectionsPerHost: 256)
        let runner = PipelineRunner(
            queue: queue, databasePath: databasePath, configuration: configuration, client: client)
        // The simulator's minutes count from its start; the run is measured from the minute of its
        // first call (ingest, chunking and rendering come first) and stopped `minutes` later.
        let task = Task { try await runner.run { _ in } }
        while server.statistics.requests == 0 && !task.isCancelled {
            try await Task.sleep(for: .milliseconds(20))
        }
        let other = scenario == .shared ? Task { await otherClient(endpoint: server.endpoint, client: client) } : nil
        let realSeconds = Double(minutes + 1) * 60 / speedUp
        try await Task.sleep(for: .milliseconds(Int(realSeconds * 1_000)))
        let statuses = await runner.scheduler.statuses()
        task.cancel()
        other?.cancel()
        _ = try? await task.value
        await other?.value
        let statistics = server.statistics
        try await client.shutdown()
        try await server.stop()
        var result = report(statistics, pacer: pacer)
        for status in statuses { result.chargeRatio[status.name] = status.chargeRatio }
        return result
    }

    /// Enough documents for the whole run at full quota (with room to spare); returns how many.
    ///
    /// - Parameter wanted: About how many chunks to write (default: twice what the quota takes in
    ///   `minutes` + 3 minutes, and half again).
    func writeDocuments(to path: String, chunks wanted: Int? = nil) throws -> Int {
        let tiny = scenario == .rpmBound
        let perMinute = deployments.reduce(0) { total, pair in
            switch pair.1.kind {
            case .standard: return total + (tiny ? requestsPerMinute : 300_000 / 400)
            case .provisioned(_, let tpm): return total + (tpm ?? 0) / 800
            }
        }
        let chunks = wanted ?? perMinute * (minutes + 3) * 3 / 2
        let documents = max(4, chunks / (tiny ? 12 : 6))
        for index in 0..<documents {
            let kind = MixedText.Kind.allCases[index % MixedText.Kind.allCases.count]
            let text = MixedText.document(kind, seed: index, bytes: tiny ? 1_500 : 16_000)
            // Named so the kinds interleave in the walk's (sorted) order.
            let name = "doc-" + String(100_000 + index).dropFirst() + "-\(kind.rawValue).md"
            try Data(text.utf8).write(to: URL(fileURLWithPath: "\(path)/\(name)"))
        }
        return documents
    }

    /// Another client of the shared deployment: about 90,000 TPM of English prompts at a steady pace,
    /// paying no attention to anyone (its 429s are its own).
    private func otherClient(endpoint: String, client: ChatCompletionClient) async {
        let deployment = Deployment(
            name: "other", endpoint: endpoint, api: .azure(apiVersion: "2024-10-21"), deployment: "paygo",
            authentication: .apiKey("sim-key"), timeoutSeconds: 60, maxConcurrency: 16)
        let prompt = String(MixedText.document(.english, seed: 7, bytes: 3_700).prefix(3_600))
        let body = Data(
            "{\"max_tokens\":100,\"messages\":[{\"role\":\"user\",\"content\":\(JSONText.quoted(prompt))}]}".utf8)
        // 3,600 characters / 4 + 100 = 1,000 tokens charged, 90 a minute.
        let interval = 60.0 / 90 / speedUp
        await withTaskGroup(of: Void.self) { group in
            var index = 0
            while !Task.isCancelled {
                index += 1
                let id = "other-\(index)"
                group.addTask { _ = await client.send(body: body, to: deployment, customID: id) }
                try? await Task.sleep(for: .milliseconds(Int(interval * 1_000)))
            }
            group.cancelAll()
        }
    }

    func report(_ statistics: SimulatorStatistics, pacer: Pacer) -> Run {
        let ours = { (arrival: Arrival) in !(arrival.client?.hasPrefix("other-") ?? false) }
        let firstMinute =
            deployments.compactMap { pair in
                (statistics.arrivals[pair.0.name] ?? []).first(where: ours).map { Int($0.time / 60) }
            }.min() ?? 0
        let steady = (firstMinute + 1)..<(firstMinute + 1 + minutes)
        var run = Run(
            pacer: pacer, minutes: [], utilization: [:], ownShare: [:], rateLimitedShare: [:], requests: [:],
            rateLimited: [:], burst: [:], chargeRatio: [:])
        for (simulated, quota) in deployments {
            let timeline = statistics.timeline[simulated.name] ?? [:]
            for minute in timeline.keys.sorted() where minute >= firstMinute {
                guard let counters = timeline[minute] else { continue }
                run.minutes.append(
                    Minute(
                        minute: minute - firstMinute, deployment: quota.name, requests: counters.requests,
                        rateLimited: counters.rateLimited, admittedTokens: counters.admittedTokens,
                        processedTokens: counters.drainedTokens))
            }
            let arrivals = statistics.arrivals[simulated.name] ?? []
            let inSteady = arrivals.filter { steady.contains(Int($0.time / 60)) }
            let mine = inSteady.filter(ours)
            let refused = mine.filter { $0.status == 429 }.count
            run.requests[quota.name] = mine.count
            run.rateLimited[quota.name] = refused
            run.rateLimitedShare[quota.name] = mine.isEmpty ? 0 : Double(refused) / Double(mine.count)
            let admitted = inSteady.filter { $0.status == 200 }
            let limit: Double
            switch simulated.kind {
            case .standard(let tpm, let rpm, _):
                limit = Double(tpm)
                let minutes = Double(max(1, steady.count))
                if scenario == .rpmBound {
                    run.utilization[quota.name] = Double(admitted.count) / (Double(rpm) * minutes)
                } else {
                    run.utilization[quota.name] = Double(admitted.reduce(0) { $0 + $1.charge }) / (limit * minutes)
                }
                run.ownShare[quota.name] =
                    Double(admitted.filter(ours).reduce(0) { $0 + $1.charge }) / (limit * minutes)
            case .provisioned(let tpm, _, _):
                limit = Double(tpm)
                let processed = steady.compactMap { timeline[$0] }.reduce(0) { $0 + $1.drainedTokens }
                run.utilization[quota.name] = Double(processed) / (limit * Double(max(1, steady.count)))
            default:
                limit = 1
            }
            run.burst[quota.name] = Self.burst(arrivals.filter { ours($0) && $0.status == 200 }, limit: limit)
        }
        return run
    }

    /// The largest charge admitted in any 10 seconds, ÷ a sixth of the per-minute limit.
    static func burst(_ admitted: [Arrival], limit: Double) -> Double {
        let sorted = admitted.sorted { $0.time < $1.time }
        var largest = 0
        var sum = 0
        var start = 0
        for arrival in sorted {
            sum += arrival.charge
            while sorted[start].time <= arrival.time - 10 {
                sum -= sorted[start].charge
                start += 1
            }
            largest = max(largest, sum)
        }
        return Double(largest) / (limit / 6)
    }
}

extension QuotaBenchmark.Report {
    /// A table for people: per pacer, the steady state; then Sluice's minutes.
    package func formatted() -> String {
        let what =
            switch scenario {
            case .provisioned: "capacity processed"
            case .rpmBound: "RPM used"
            default: "TPM charged"
            }
        var lines = [
            "scenario \(scenario.rawValue): \(Int(simulatedMinutes)) simulated minutes at \(speedUp)× speed after the first call; minute 0 is ramp-up",
            "pacer   deployment  \(what.padding(toLength: 18, withPad: " ", startingAt: 0))  own share  429s / requests        BURST  charge ratio",
        ]
        for run in runs {
            for name in run.utilization.keys.sorted() {
                let ratio = run.chargeRatio[name].map { String(format: "%.3f", $0) } ?? "-"
                let own = run.ownShare[name].map { String(format: "%.1f%%", $0 * 100) } ?? "-"
                let refused =
                    "\(run.rateLimited[name] ?? 0) / \(run.requests[name] ?? 0)"
                    + String(format: " (%.2f%%)", (run.rateLimitedShare[name] ?? 0) * 100)
                lines.append(
                    run.pacer.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)
                        + name.padding(toLength: 12, withPad: " ", startingAt: 0)
                        + String(format: "%.1f%%", (run.utilization[name] ?? 0) * 100).leftPadded(18) + "  "
                        + own.leftPadded(9) + "  " + refused.padding(toLength: 22, withPad: " ", startingAt: 0)
                        + String(format: "%5.2f", run.burst[name] ?? 0) + "  " + ratio)
            }
        }
        if let run = runs.first {
            lines.append("\(run.pacer.rawValue) pacer, per minute:")
            lines.append("minute  deployment  requests  429s  charged tokens  processed tokens")
            for row in run.minutes {
                lines.append(
                    String(row.minute).leftPadded(6) + "  "
                        + row.deployment.padding(toLength: 10, withPad: " ", startingAt: 0)
                        + String(row.requests).leftPadded(10) + String(row.rateLimited).leftPadded(6)
                        + String(row.admittedTokens).leftPadded(16) + String(row.processedTokens).leftPadded(18))
            }
        }
        return lines.joined(separator: "\n")
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}
