import Call
import Collect
import Foundation
import Pipeline
import Queue
import Simulator
import SluiceCore

/// `sluice-bench workers`: `sluice run` worker processes sharing one PostgreSQL queue, as hosts of a
/// team would run them.
///
/// - Throughput: chunks per second end to end with 1, 2 and 4 workers against a simulator with no
///   latency and no limits (enqueue included, the workers started together).
/// - Shared quota: three workers given the whole of one 300,000 TPM / 1,800 RPM deployment of the
///   simulator (charged like Azure: characters / 4 + max_tokens at arrival, counted per minute;
///   RPM over 1 s windows), one of them killed (SIGKILL) in the middle of the measured minutes.
///   Measured like `bench quota`: the share of the TPM the service admitted in the steady minutes,
///   and the share of requests answered 429; then the survivors drain the queue, and the export is
///   checked for one line per chunk and the service for calls sent again after their commit.
package struct WorkersBenchmark: Sendable {
    /// One throughput measurement.
    package struct Throughput: Sendable, Codable {
        package var workers: Int
        package var chunks: Int
        package var seconds: Double
        package var chunksPerSecond: Double
        /// CPU seconds (user + system) the worker processes used, per 1,000 chunks: what a chunk costs
        /// whatever the cores (on a machine with fewer cores than processes, the wall time says
        /// contention).
        package var workerCPUSecondsPer1000: Double
    }

    /// The shared-quota run.
    package struct SharedQuota: Sendable, Codable {
        package var scenario: QuotaBenchmark.Scenario
        package var workers: Int
        package var speedUp: Double
        /// The steady minutes, measured like `bench quota` (minute 0, ramp-up, left out).
        package var run: QuotaBenchmark.Run
        /// Simulated seconds after the first call when the worker was killed.
        package var killedAt: Double?
        /// Exit statuses of the workers that were not killed.
        package var survivorStatuses: [Int32]
        /// Chunks done, lines exported and distinct custom ids among them.
        package var chunks: Int
        package var lines: Int
        package var distinctLines: Int
        package var failedCalls: Int
        /// Units committed before the kill and sent to the service again after it (must be none).
        package var resentAfterCommit: [String]
        /// Requests the service answered twice (calls in flight at the kill, sent again by another worker).
        package var answeredTwice: Int
    }

    /// The `sluice` executable the workers run.
    package var executable: String
    /// A `postgres://` URL; its queue tables are emptied before each measurement.
    package var database: String

    package init(executable: String, database: String) {
        self.executable = executable
        self.database = database
    }

    /// Starts a worker process: `sluice run --db URL` with the given deployment flags.
    func startWorker(_ flags: [String], logTo path: String) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["run", "--db", database, "--api-key-env", "SLUICE_BENCH_KEY"] + flags
        process.environment = ProcessInfo.processInfo.environment.merging(["SLUICE_BENCH_KEY": "sim-key"]) { $1 }
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        process.standardOutput = FileHandle.nullDevice
        process.standardError = log
        try process.run()
        return process
    }

    /// Waits for a process off the cooperative pool, killing it after `timeout` seconds.
    static func exit(of process: Process, timeout: Double) async -> Int32 {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                let pid = process.processIdentifier
                let watchdog = DispatchWorkItem { kill(pid, SIGKILL) }
                DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
                process.waitUntilExit()
                watchdog.cancel()
                continuation.resume(returning: process.terminationStatus)
            }
        }
    }

    /// Chunks per second with `workers` processes on one queue against a simulator with no limits.
    package func throughput(workers: Int, chunks: Int, directory: String, progress: @Sendable (String) -> Void)
        async throws -> Throughput
    {
        let fileManager = FileManager.default
        try? fileManager.removeItem(atPath: directory)
        let documents = directory + "/documents"
        try fileManager.createDirectory(atPath: documents, withIntermediateDirectories: true)
        try PipelineBenchmark(chunks: chunks, concurrency: 64).writeDocuments(to: documents)
        let server = try await SimulatorServer.start(
            configuration: SimulatorConfiguration(baseLatency: 0, perTokenLatency: 0, replyTokens: 20))
        let queue = try await QueueBenchmark.emptiedQueue(url: database)
        let clock = ContinuousClock()
        let start = clock.now
        _ = try await Enqueuer(queue: queue).enqueue(root: documents, pipeline: PipelineBenchmark.pipeline)
        let processes = try (0..<workers).map { index in
            try startWorker(
                ["--endpoint", server.endpoint, "--deployment", "sim", "--concurrency", "64"],
                logTo: "\(directory)/worker-\(index).log")
        }
        progress("\(workers) workers started")
        let cpuBefore = Self.childrenCPUSeconds()
        for process in processes { _ = await Self.exit(of: process, timeout: 3_600) }
        let seconds = (clock.now - start).seconds
        let cpu = Self.childrenCPUSeconds() - cpuBefore
        let done = try await queue.statistics().count(.call, .done)
        await queue.close()
        try await server.stop()
        return Throughput(
            workers: workers, chunks: done, seconds: seconds, chunksPerSecond: Double(done) / max(seconds, 1e-9),
            workerCPUSecondsPer1000: cpu / Double(max(done, 1)) * 1_000)
    }

    /// User + system CPU seconds of this process's children that have ended and been waited for.
    static func childrenCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_CHILDREN.rawValue, &usage)
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    /// Three (or `workers`) workers on one sped-up 300,000 TPM deployment, one killed midway.
    ///
    /// - Parameters:
    ///   - minutes: Steady minutes measured after the first (ramp-up) one.
    ///   - chunks: About how many chunks to enqueue: enough to keep the deployment full through the
    ///     measured minutes, few enough for the survivors to drain soon after.
    ///   - scenario: `skew-1.0` (600-token chunks: the TPM binds), `rpm-bound` (tiny prompts: the
    ///     RPM binds, and workers pacing alone would each send all of it) or `provisioned` (50 PTU of
    ///     gpt-4o, 125,000 tokens a minute, output weight 4, each worker given all 50).
    ///   - requestsPerMinute: The deployment's RPM (1,800 is the TPM's derived share).
    package func sharedQuota(
        scenario name: QuotaBenchmark.Scenario = .skewEven, workers: Int = 3, minutes: Int, speedUp: Double,
        requestsPerMinute: Int = 1_800, chunks: Int, kill: Bool = true, directory: String,
        progress: @Sendable (String) -> Void
    ) async throws -> SharedQuota {
        let fileManager = FileManager.default
        try? fileManager.removeItem(atPath: directory)
        let documents = directory + "/documents"
        try fileManager.createDirectory(atPath: documents, withIntermediateDirectories: true)
        var scenario = QuotaBenchmark(scenario: name, minutes: minutes, speedUp: speedUp, pacers: [.sluice])
        scenario.requestsPerMinute = requestsPerMinute
        _ = try scenario.writeDocuments(to: documents, chunks: chunks)
        var simulator = SimulatorConfiguration(
            deployments: scenario.deployments.map(\.0), defaultKind: nil, baseLatency: 0.3, perTokenLatency: 0.005,
            speedUp: speedUp, replyTokens: 150)
        simulator.charge = .chars
        simulator.recordArrivals = true
        let server = try await SimulatorServer.start(configuration: simulator)
        let queue = try await QueueBenchmark.emptiedQueue(url: database)
        let pipeline = try PipelineFile.parse(
            name == .rpmBound ? QuotaBenchmark.tinyPipeline : QuotaBenchmark.textPipeline, file: "quota-bench.yaml",
            defaultName: "quota-bench")
        _ = try await Enqueuer(queue: queue).enqueue(root: documents, pipeline: pipeline)
        // Every worker is told the deployment's whole quota, as users write it.
        let limits =
            name == .provisioned
            ? ["--deployment", "ptu", "--kind", "provisioned", "--ptu", "50", "--concurrency", "128"]
            : ["--deployment", "paygo", "--tpm", "300000", "--rpm", String(requestsPerMinute), "--concurrency", "64"]
        let flags =
            ["--endpoint", server.endpoint] + limits + ["--time-scale", String(speedUp), "--timeout", "60"]
        var processes = try (0..<workers).map { try startWorker(flags, logTo: "\(directory)/worker-\($0).log") }
        progress("\(workers) workers started on \(chunks) chunks; \(minutes) steady minutes at \(speedUp)× speed")
        while server.statistics.requests == 0 {
            try await Task.sleep(for: .milliseconds(20))
        }
        let firstCall = server.simulatedNow
        var killedAt: Double?
        var checkpoint: (arrivals: Int, committed: Set<String>)?
        if kill {
            // In the middle of the measured minutes (minute 0 is ramp-up).
            let middle = 60 * (1 + Double(minutes) / 2)
            try await Task.sleep(for: .milliseconds(Int(middle / speedUp * 1_000)))
            let victim = processes.removeFirst()
            Foundation.kill(victim.processIdentifier, SIGKILL)
            _ = await Self.exit(of: victim, timeout: 60)
            killedAt = server.simulatedNow - firstCall
            let committed = try await queue.storedUnitKeys().map { "sluice-" + $0.prefix(32) }
            checkpoint = (server.statistics.requests, Set(committed))
            progress(String(format: "worker killed at %.0f simulated s", killedAt ?? 0))
        }
        var statuses: [Int32] = []
        for process in processes { statuses.append(await Self.exit(of: process, timeout: 3_600)) }
        let statistics = server.statistics
        try await server.stop()
        let output = directory + "/export.jsonl"
        let exported = try await Exporter.export(queue: queue, runIDs: nil, to: output)
        let counts = try await queue.statistics()
        await queue.close()
        var ids = Set<String>()
        for line in try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n") {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            if let id = object?["custom_id"] as? String { ids.insert(id) }
        }
        var resent: [String] = []
        if let checkpoint {
            for id in checkpoint.committed.sorted()
            where (statistics.arrivalsByClientID[id] ?? []).contains(where: { $0 > checkpoint.arrivals }) {
                resent.append(id)
            }
        }
        return SharedQuota(
            scenario: name, workers: workers, speedUp: speedUp, run: scenario.report(statistics, pacer: .sluice),
            killedAt: killedAt,
            survivorStatuses: statuses, chunks: counts.count(.call, .done), lines: exported.lines,
            distinctLines: ids.count, failedCalls: counts.count(.call, .failed), resentAfterCommit: resent,
            answeredTwice: statistics.completedByClientID.values.filter { $0 > 1 }.count)
    }
}
