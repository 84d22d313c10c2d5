import Call
import Foundation
import Pipeline
import Queue
import SluiceCore

/// `sluice-bench batch`: a run of `chunks` chunks through the batch lane against a simulator
/// process whose Batch API processes fast, and the same documents online: the time Sluice spends
/// per chunk (its whole CPU time, and the lane's phases: packing, upload, download, reconcile,
/// commit) and the peak resident memory of each run.
package struct BatchBenchmark: Sendable {
    package struct Lane: Sendable, Codable {
        package var chunks: Int
        package var wallSeconds: Double
        /// User + system CPU of this process (the simulator runs in another).
        package var cpuSeconds: Double
        package var peakRSSMegabytes: Double
        package var batches: Int
        /// The lane's phases, microseconds of wall time per chunk.
        package var phaseMicrosecondsPerChunk: [String: Double]
    }

    package struct Report: Sendable, Codable {
        package var documents: Int
        package var batch: Lane
        package var online: Lane
        /// CPU per chunk, batch over online.
        package var cpuRatio: Double
    }

    package var chunks: Int

    package init(chunks: Int) { self.chunks = chunks }

    /// CPU seconds of this process so far, and its peak RSS in MB.
    static func usage() -> (cpu: Double, rss: Double) {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let cpu =
            Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec)
            + Double(usage.ru_stime.tv_usec) / 1e6
        return (cpu, Double(usage.ru_maxrss) / 1024)
    }

    /// Runs the batch lane first (peak RSS is the process's: the batch figure comes first), then online.
    package func run(directory: String, endpoint: String, progress: @escaping @Sendable (String) -> Void)
        async throws -> Report
    {
        let fileManager = FileManager.default
        try? fileManager.removeItem(atPath: directory)
        let documentsPath = directory + "/documents"
        try fileManager.createDirectory(atPath: documentsPath, withIntermediateDirectories: true)
        let documents = try PipelineBenchmark(chunks: chunks, concurrency: 64).writeDocuments(to: documentsPath)
        let batch = try await lane(batch: true, directory: directory, endpoint: endpoint, progress: progress)
        let online = try await lane(batch: false, directory: directory, endpoint: endpoint, progress: progress)
        let perChunk = { (lane: Lane) in lane.cpuSeconds / Double(max(1, lane.chunks)) }
        return Report(
            documents: documents, batch: batch, online: online, cpuRatio: perChunk(batch) / max(1e-12, perChunk(online))
        )
    }

    private func lane(batch: Bool, directory: String, endpoint: String, progress: @escaping @Sendable (String) -> Void)
        async throws -> Lane
    {
        let name = batch ? "gpt-batch" : "sim"
        let databasePath = directory + "/\(name).db"
        let queue = try SQLiteJobQueue(path: databasePath)
        let before = Self.usage()
        let clock = ContinuousClock()
        let start = clock.now
        _ = try await Enqueuer(queue: queue).enqueue(
            root: directory + "/documents", pipeline: PipelineBenchmark.pipeline)
        let deployment = Deployment(
            name: name, endpoint: endpoint, api: .azure(apiVersion: "2024-10-21"), deployment: name,
            authentication: .apiKey("sim-key"), timeoutSeconds: 60, maxConcurrency: 64)
        let client = ChatCompletionClient(connectionsPerHost: 64)
        var configuration = RunConfiguration(
            outputPath: directory + "/\(name).jsonl", deployments: [name: deployment], progressInterval: 5)
        let timings = BatchLaneTimings()
        if batch {
            configuration.batch = [name: BatchSettings(enqueuedTokens: 100_000_000, pollSeconds: 0.2)]
            configuration.batchLane.lingerSeconds = 0.5
            configuration.batchLane.tickSeconds = 0.05
            configuration.batchLane.timings = timings
        }
        let runner = PipelineRunner(
            queue: queue, databasePath: databasePath, configuration: configuration, client: client)
        let summary = try await runner.run { report in
            progress("\(name): \(report.calls) calls, \(report.batches.count) batches in flight")
        }
        try await client.shutdown()
        let wall = (clock.now - start).seconds
        let after = Self.usage()
        let chunks = max(1, summary.chunksSucceeded)
        return Lane(
            chunks: summary.chunksSucceeded, wallSeconds: wall, cpuSeconds: after.cpu - before.cpu,
            peakRSSMegabytes: after.rss, batches: try await queue.batches(all: true).count,
            phaseMicrosecondsPerChunk: Dictionary(
                uniqueKeysWithValues: timings.seconds.map { ($0.key.rawValue, $0.value / Double(chunks) * 1e6) }))
    }
}
