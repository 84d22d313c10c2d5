import ArgumentParser
import Benchmarks
import Foundation
import SluiceCore
import Tokenizer

/// `sluice-bench`: Sluice's benchmarks, a binary of their own (they are not in the user's `sluice`).
@main
struct SluiceBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sluice-bench",
        abstract: "Measure Sluice's throughput.",
        subcommands: [
            BenchTokenizerCommand.self, BenchQueueCommand.self, BenchPipelineCommand.self, BenchIngestCommand.self,
            BenchQuotaCommand.self, BenchEstimateCommand.self, BenchWorkersCommand.self, BenchBatchCommand.self,
        ]
    )
}

struct BenchTokenizerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenizer",
        abstract: "Tokenizer throughput, side by side with tiktoken when it is installed.",
        discussion: """
            Without files, assembles at least 24 MB of mixed real text from the machine (licences, \
            package documentation, manual pages in every installed language). tiktoken runs from \
            python3 on the same documents when `import tiktoken` works; its vocabularies are written \
            from Sluice's own copies, so nothing is downloaded.
            """
    )

    @Argument(help: "Text files to use as the corpus instead of the machine's documentation.")
    var files: [String] = []

    @Option(help: "Rounds per measurement; the best is reported.")
    var rounds = 3

    @Option(help: "Threads for the parallel measurements (default: the number of cores).")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Minimum corpus size in bytes when no files are given.")
    var corpusBytes = 24_000_000

    @Flag(help: "Skip the tiktoken reference run.")
    var noReference = false

    @Flag(help: "Print the report as JSON on stdout.")
    var json = false

    func run() throws {
        let encodings: [EncodingName] = [.o200kBase, .cl100kBase]
        let load = TokenizerBenchmark.measureLoad(encodings)
        let corpus = files.isEmpty ? TextCorpus.machineText(minimumBytes: corpusBytes) : try TextCorpus.files(files)
        guard corpus.byteCount > 0 else { throw ValidationError("the corpus is empty") }
        let benchmark = TokenizerBenchmark(
            rounds: rounds, threads: threads, reference: !noReference, encodings: encodings)
        var report = benchmark.run(corpus: corpus, loadMilliseconds: load) { Terminal.status($0) }
        // The user's binary, built beside this one, serves as the simulator process.
        let executable = siblingSluice()
        report.processMilliseconds = TokenizerBenchmark.measureFreshProcess(
            executable: executable, encodings: encodings)
        if json {
            print(try report.json())
        } else {
            print(report.formatted())
        }
    }
}

struct BenchQueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue", abstract: "Queue transitions per second on a SQLite file or a PostgreSQL database.")

    @Option(help: "Jobs to push through three stages.")
    var jobs = 50_000

    @Option(help: "Claim and completion batch size.")
    var batch = 256

    @Option(help: "The database file (recreated), or a postgres:// URL (its queue tables are emptied).")
    var db = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-bench-queue.db").path

    @Flag(help: "Print the report as JSON.")
    var json = false

    func run() async throws {
        let report = try await QueueBenchmark(jobs: jobs, batch: batch).run(databasePath: db)
        try printReport(report, json: json) {
            String(
                format:
                    "%d jobs × 3 stages, batch %d, file %@\n%d transitions in %.2f s: %.0f transitions/s (%.0f stage hops/s)",
                report.jobs, report.batch, report.database, report.transitions, report.seconds,
                report.transitionsPerSecond, report.hopsPerSecond)
        }
    }
}

struct BenchPipelineCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipeline",
        abstract: "Chunks per second end to end against a simulator process, and peak memory.")

    @Option(help: "Chunks to process (documents of 50 chunks each).")
    var chunks = 10_000

    @Option(help: "Requests in flight.")
    var concurrency = 64

    @Option(help: "Working folder (recreated).")
    var directory = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-bench-pipeline").path

    @Flag(help: "Print the report as JSON.")
    var json = false

    func run() async throws {
        let (simulator, endpoint) = try startSimulatorProcess([])
        defer {
            simulator.terminate()
            simulator.waitUntilExit()
        }
        let report = try await PipelineBenchmark(chunks: chunks, concurrency: concurrency).run(
            directory: directory, endpoint: endpoint
        ) { Terminal.status($0) }
        try printReport(report, json: json) {
            String(
                format:
                    "%d documents, %d chunks, concurrency %d\nenqueue %.1f s, run %.1f s: %.0f chunks/s end to end\npeak RSS %.0f MB; output %d lines, %.1f MB",
                report.documents, report.chunks, report.concurrency, report.enqueueSeconds, report.runSeconds,
                report.chunksPerSecond, report.peakRSSMegabytes, report.outputLines,
                Double(report.outputBytes) / 1e6)
        }
    }
}

struct BenchBatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "batch",
        abstract:
            "A run through the batch lane against a fast simulator process, then online: Sluice's time per chunk and peak memory."
    )

    @Option(help: "Chunks to process (documents of 50 chunks each).")
    var chunks = 10_000

    @Option(help: "Working folder (recreated).")
    var directory = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-bench-batch").path

    @Flag(help: "Print the report as JSON.")
    var json = false

    func run() async throws {
        // Fast processing: files processed and batches validated in 0.05 s, lines at 200,000/s.
        let (simulator, endpoint) = try startSimulatorProcess([
            "--batch-deployment", "gpt-batch", "--enqueued-tokens", "100000000", "--batch-pending", "1",
            "--batch-validation", "1", "--batch-lines-per-second", "10000", "--speedup", "20",
        ])
        defer {
            simulator.terminate()
            simulator.waitUntilExit()
        }
        let report = try await BatchBenchmark(chunks: chunks).run(directory: directory, endpoint: endpoint) {
            Terminal.status($0)
        }
        try printReport(report, json: json) {
            func lane(_ name: String, _ lane: BatchBenchmark.Lane) -> String {
                let phases = lane.phaseMicrosecondsPerChunk.sorted { $0.key < $1.key }.map {
                    String(format: "%@ %.1f", $0.key, $0.value)
                }.joined(separator: ", ")
                return String(
                    format:
                        "%@: %d chunks in %.1f s wall, %.3f s CPU (%.0f µs per chunk), peak RSS %.0f MB, %d batches%@",
                    name, lane.chunks, lane.wallSeconds, lane.cpuSeconds,
                    lane.cpuSeconds / Double(max(1, lane.chunks)) * 1e6, lane.peakRSSMegabytes, lane.batches,
                    phases.isEmpty ? "" : "\n  lane phases, µs of wall time per chunk: " + phases)
            }
            return "\(report.documents) documents\n" + lane("batch", report.batch) + "\n"
                + lane("online", report.online)
                + String(format: "\nCPU per chunk, batch / online: ×%.2f", report.cpuRatio)
        }
    }
}

struct BenchIngestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest", abstract: "Extraction and extraction + chunking throughput per format.")

    @Argument(help: "A directory of documents (every supported format in it is measured).")
    var directory: String

    @Option(help: "Threads for the parallel measurement (default: the number of cores).")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    @Flag(help: "Print the report as JSON.")
    var json = false

    func run() async throws {
        let report = try await IngestBenchmark(threads: threads).run(directory: directory)
        try printReport(report, json: json) {
            report.formatted()
        }
    }
}

struct BenchQuotaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quota",
        abstract: "Share of a deployment's quota a run uses, its 429s and bursts, against the simulator (sped up).",
        discussion: """
            The simulator charges the TPM with a character-based estimate (characters / 4 + max_tokens, \
            as Azure's documented rule), on documents mixing English and German prose, source code and \
            Chinese, chunked at 600 tokens with max_tokens 300. Each scenario runs with Sluice's pacer \
            and with a naive one (its exact token count + max_tokens, nothing learned; provisioned: the \
            closed loop alone). Scenarios: skew-0.8, skew-1.0, skew-1.25 (standard 300,000 TPM / 1,800 \
            RPM, the service's estimate × the skew); no-limits (the same, nothing given); shared \
            (another client spends about 90,000 TPM); rpm-10s (RPM over 10 s windows); rpm-bound (tiny \
            prompts); provisioned (125,000 tokens/min, output weight 4); pool (provisioned 100,000/min \
            first, standard 300,000 TPM for the overflow). BURST is the largest charge admitted in any \
            10 s ÷ a sixth of the minute's limit. Minute 0 is ramp-up and left out of the steady state.
            """)

    @Option(
        help:
            "A scenario (skew-0.8, skew-1.0, skew-1.25, no-limits, shared, rpm-10s, rpm-bound, provisioned, pool) or all."
    )
    var scenario = "all"

    @Option(help: "Steady-state minutes to measure (after a first minute of ramp-up).")
    var minutes = 4

    @Option(help: "Simulated time runs this many times faster than real time (beyond ~5, timer jitter costs quota).")
    var speedup: Double = 5

    @Option(help: "sluice, naive or both.")
    var pacer = "both"

    @Option(help: "Working folder (recreated).")
    var directory = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-bench-quota").path

    @Flag(help: "Print the reports as JSON.")
    var json = false

    func run() async throws {
        let pacers =
            pacer == "both" ? QuotaBenchmark.Pacer.allCases : [QuotaBenchmark.Pacer(rawValue: pacer)].compactMap { $0 }
        guard !pacers.isEmpty else { throw ValidationError("--pacer: sluice, naive or both") }
        try await runScenarios(QuotaBenchmark.Scenario.self, named: scenario, json: json) { scenario in
            let report = try await QuotaBenchmark(
                scenario: scenario, minutes: minutes, speedUp: speedup, pacers: pacers
            ).run(directory: directory) { Terminal.status($0) }
            return (report, report.formatted())
        }
    }
}

struct BenchEstimateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "estimate",
        abstract: "Accuracy of `sluice estimate`: input tokens against the simulator's bill, time against the run.",
        discussion: """
            Makes a corpus of reports (one to eight chunks each), estimates it (with a sample of 20 calls for \
            the expected output), runs it against the sped-up simulator at 100,000 TPM (standard) or \
            100,000 tokens/min of capacity (provisioned), and compares.
            """)

    @Option(help: "standard, provisioned or all.")
    var scenario = "all"

    @Option(help: "Documents in the corpus (at least 200 for the reported figures).")
    var documents = 240

    @Option(help: "Simulated time runs this many times faster than real time.")
    var speedup: Double = 5

    @Option(help: "Working folder (recreated).")
    var directory = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-bench-estimate").path

    @Flag(help: "Print the reports as JSON.")
    var json = false

    func run() async throws {
        try await runScenarios(EstimateBenchmark.Scenario.self, named: scenario, json: json) { scenario in
            let report = try await EstimateBenchmark(scenario: scenario, documents: documents, speedUp: speedup).run(
                directory: directory
            ) { Terminal.status($0) }
            return (report, report.formatted())
        }
    }
}

/// Runs a benchmark's scenarios (`all`, or one by name), printing each report for people as it comes,
/// or all of them as JSON at the end.
func runScenarios<Scenario: RawRepresentable & CaseIterable, Report: Encodable>(
    _: Scenario.Type, named name: String, json: Bool, run: (Scenario) async throws -> (Report, String)
) async throws where Scenario.RawValue == String {
    let scenarios = name == "all" ? Array(Scenario.allCases) : [Scenario(rawValue: name)].compactMap { $0 }
    guard !scenarios.isEmpty else {
        throw ValidationError("--scenario: " + (Scenario.allCases.map(\.rawValue) + ["all"]).joined(separator: ", "))
    }
    var reports: [Report] = []
    for scenario in scenarios {
        let (report, text) = try await run(scenario)
        reports.append(report)
        if !json { print(text + "\n") }
    }
    if json {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        print(String(decoding: try encoder.encode(reports), as: UTF8.self))
    }
}

/// A report on stdout: as JSON, or as the text `text` makes.
func printReport(_ report: some Encodable, json: Bool, text: () -> String) throws {
    print(json ? String(decoding: try JSONEncoder().encode(report), as: UTF8.self) : text())
}

/// The user's `sluice`, built beside this binary (the simulator process of the benchmarks).
func siblingSluice() -> String {
    URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        .appendingPathComponent("sluice").path
}

/// Progress lines on stderr (stdout carries the reports).
enum Terminal {
    static func status(_ line: String) {
        FileHandle.standardError.write(Data(("sluice-bench: " + Printable.escaped(line) + "\n").utf8))
    }
}

/// Starts the user's binary, built beside this one, as a simulator process with no latency, and
/// returns it with the URL it printed.
func startSimulatorProcess(_ arguments: [String]) throws -> (Process, String) {
    let simulator = Process()
    simulator.executableURL = URL(fileURLWithPath: siblingSluice())
    simulator.arguments =
        ["simulate", "--port", "0", "--latency", "0", "--per-token-latency", "0", "--reply-tokens", "20"] + arguments
    let pipe = Pipe()
    simulator.standardOutput = pipe
    try simulator.run()
    var line = Data()
    while let byte = try pipe.fileHandleForReading.read(upToCount: 1), !byte.isEmpty, byte != Data("\n".utf8) {
        line += byte
    }
    let endpoint = String(decoding: line, as: UTF8.self)
    Terminal.status("simulator process at \(endpoint)")
    return (simulator, endpoint)
}
