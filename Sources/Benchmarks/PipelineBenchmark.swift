import Call
import Foundation
import Pipeline
import Queue
import SluiceCore

/// `sluice-bench pipeline`: chunks per second end to end (enqueue, ingest, chunk, prompt, call,
/// collect) against a simulator in a separate process with zero latency and no limits, and the
/// peak resident memory of the run.
package struct PipelineBenchmark: Sendable {
    package struct Report: Sendable, Codable {
        package var documents: Int
        package var chunks: Int
        package var concurrency: Int
        package var enqueueSeconds: Double
        package var runSeconds: Double
        package var chunksPerSecond: Double
        package var peakRSSMegabytes: Double
        package var outputLines: Int
        package var outputBytes: Int
    }

    package var chunks: Int
    package var concurrency: Int
    /// Chunks per document.
    package var chunksPerDocument = 50

    package init(chunks: Int, concurrency: Int) {
        self.chunks = chunks
        self.concurrency = concurrency
    }

    /// Lines and bytes of a file, read in blocks (after the peak memory is taken).
    static func countLines(_ path: String) -> (Int, Int) {
        guard let handle = FileHandle(forReadingAtPath: path) else { return (0, 0) }
        defer { try? handle.close() }
        var lines = 0
        var bytes = 0
        while let block = try? handle.read(upToCount: 1 << 20), !block.isEmpty {
            bytes += block.count
            lines += block.reduce(0) { $0 + ($1 == 10 ? 1 : 0) }
        }
        return (lines, bytes)
    }

    /// The pipeline: 64-token chunks, a short reply.
    static let pipeline = PipelineDefinition(
        name: "bench", model: "gpt-4o-mini",
        messages: [.init(role: "system", template: "Summarize."), .init(role: "user", template: "{{chunk.text}}")],
        maxTokens: 20, chunking: .init(maxTokens: 64, overlapTokens: 0))

    /// Writes the documents of `chunks` chunks, `chunksPerDocument` each, into `path`; returns how many.
    @discardableResult
    func writeDocuments(to path: String) throws -> Int {
        let documents = max(1, chunks / chunksPerDocument)
        // Each sentence is about 16 tokens; four make one 64-token chunk.
        let sentences = (0..<(chunksPerDocument * 4)).map {
            "Sentence \($0) of the benchmark corpus, about shipments and customs.\n\n"
        }
        for index in 0..<documents {
            let text = "Document \(index)\n\n" + sentences.joined()
            try Data(text.utf8).write(to: URL(fileURLWithPath: "\(path)/doc-\(index).txt"))
        }
        return documents
    }

    /// Runs against the simulator at `endpoint` in the folder `directory` (emptied first).
    package func run(directory: String, endpoint: String, progress: @escaping @Sendable (String) -> Void) async throws
        -> Report
    {
        let fileManager = FileManager.default
        try? fileManager.removeItem(atPath: directory)
        let documentsPath = directory + "/documents"
        try fileManager.createDirectory(atPath: documentsPath, withIntermediateDirectories: true)
        let documents = try writeDocuments(to: documentsPath)
        let databasePath = directory + "/bench.db"
        let queue = try SQLiteJobQueue(path: databasePath)
        let clock = ContinuousClock()
        let enqueueStart = clock.now
        _ = try await Enqueuer(queue: queue).enqueue(root: documentsPath, pipeline: Self.pipeline)
        let enqueueSeconds = (clock.now - enqueueStart).seconds
        progress("enqueued \(documents) documents in \(String(format: "%.1f", enqueueSeconds)) s; running")
        let deployment = Deployment(
            name: "sim", endpoint: endpoint, api: .azure(apiVersion: "2024-10-21"), deployment: "sim",
            authentication: .apiKey("sim-key"), timeoutSeconds: 30, maxConcurrency: concurrency)
        let client = ChatCompletionClient(connectionsPerHost: concurrency)
        let runner = PipelineRunner(
            queue: queue, databasePath: databasePath,
            configuration: RunConfiguration(
                outputPath: directory + "/bench.jsonl", deployments: ["sim": deployment], progressInterval: 5),
            client: client)
        let runStart = clock.now
        let summary = try await runner.run { report in
            progress(
                String(
                    format: "%d calls, %.0f calls/s", report.calls, report.callsPerSecond))
        }
        let runSeconds = (clock.now - runStart).seconds
        try await client.shutdown()
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let (lines, bytes) = Self.countLines(directory + "/bench.jsonl")
        return Report(
            documents: documents, chunks: summary.chunks, concurrency: concurrency, enqueueSeconds: enqueueSeconds,
            runSeconds: runSeconds, chunksPerSecond: Double(summary.chunks) / (enqueueSeconds + runSeconds),
            peakRSSMegabytes: Double(usage.ru_maxrss) / 1024, outputLines: lines, outputBytes: bytes)
    }
}
