import ArgumentParser
import Benchmarks
import Foundation

struct BenchWorkersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workers",
        abstract: "`sluice run` worker processes on one PostgreSQL queue: throughput, and one shared quota.",
        discussion: """
            throughput: chunks per second end to end (enqueue included) with each number of workers in \
            --counts, against the simulator with no latency and no limits. quota: three workers, each \
            given the whole of one 300,000 TPM / 1,800 RPM deployment of the sped-up simulator (charged \
            like Azure, characters / 4 + max_tokens), one killed with SIGKILL in the middle of the \
            measured minutes; the share of the TPM the service admitted and of requests answered 429 in \
            the steady minutes (minute 0 is ramp-up), then the export and the re-sends after the \
            survivors drained the queue. The database's queue tables are emptied first.
            """)

    @Option(help: "A postgres:// URL of a database the benchmark may empty.")
    var db: String

    @Option(help: "throughput, quota or all.")
    var mode = "all"

    @Option(help: "Worker counts for the throughput measurement.")
    var counts = "1,2,4"

    @Option(help: "Chunks for the throughput measurement.")
    var chunks = 5_500

    @Option(help: "Steady minutes measured in the quota run.")
    var minutes = 4

    @Option(help: "Chunks enqueued for the quota run (enough for the measured minutes, then a short drain).")
    var quotaChunks = 2_200

    @Option(
        help:
            "The quota run: skew-1.0 (600-token chunks, the TPM binds), rpm-bound (tiny prompts) or provisioned (50 PTU)."
    )
    var scenario = "skew-1.0"

    @Option(help: "Workers of the quota run.")
    var workers = 3

    @Flag(help: "Kill no worker in the quota run.")
    var noKill = false

    @Option(help: "The deployment's RPM in the quota run.")
    var rpm = 1_800

    @Option(help: "Simulated time runs this many times faster than real time in the quota run.")
    var speedup: Double = 5

    @Option(help: "Working folder (recreated).")
    var directory = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-bench-workers").path

    @Flag(help: "Print the reports as JSON.")
    var json = false

    struct Report: Encodable {
        var throughput: [WorkersBenchmark.Throughput]
        var quota: WorkersBenchmark.SharedQuota?
    }

    func run() async throws {
        guard ["throughput", "quota", "all"].contains(mode) else {
            throw ValidationError("--mode: throughput, quota or all")
        }
        let workerCounts = counts.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !workerCounts.isEmpty, workerCounts.allSatisfy({ (1...64).contains($0) }) else {
            throw ValidationError("--counts: worker counts from 1 to 64, separated by commas")
        }
        let benchmark = WorkersBenchmark(executable: siblingSluice(), database: db)
        var report = Report(throughput: [], quota: nil)
        if mode != "quota" {
            for count in workerCounts {
                let result = try await benchmark.throughput(
                    workers: count, chunks: chunks, directory: directory
                ) { Terminal.status($0) }
                report.throughput.append(result)
                if !json {
                    let base = report.throughput.first?.chunksPerSecond ?? result.chunksPerSecond
                    print(
                        String(
                            format:
                                "%d workers: %d chunks in %.1f s, %.0f chunks/s (×%.2f of %d); workers' CPU %.2f s per 1,000 chunks",
                            result.workers, result.chunks, result.seconds, result.chunksPerSecond,
                            result.chunksPerSecond / base, workerCounts[0], result.workerCPUSecondsPer1000))
                }
            }
        }
        if mode != "throughput" {
            guard let quotaScenario = QuotaBenchmark.Scenario(rawValue: scenario),
                [.skewEven, .rpmBound, .provisioned].contains(quotaScenario)
            else { throw ValidationError("--scenario: skew-1.0, rpm-bound or provisioned") }
            let result = try await benchmark.sharedQuota(
                scenario: quotaScenario, workers: max(1, workers), minutes: minutes, speedUp: speedup,
                requestsPerMinute: rpm,
                chunks: quotaChunks, kill: !noKill, directory: directory
            ) { Terminal.status($0) }
            report.quota = result
            if !json { print(Self.formatted(result)) }
        }
        if json { try printReport(report, json: true) { "" } }
    }

    static func formatted(_ result: WorkersBenchmark.SharedQuota) -> String {
        let name = result.scenario == .provisioned ? "ptu" : "paygo"
        var lines = [
            String(
                format: "%@: %d workers, one killed at %.0f simulated s; %.0f× speed", result.scenario.rawValue,
                result.workers, result.killedAt ?? 0, result.speedUp),
            "MINUTE  REQUESTS  429  ADMITTED TOKENS",
        ]
        for minute in result.run.minutes {
            lines.append(
                String(
                    format: "%6d  %8d  %3d  %15d", minute.minute, minute.requests, minute.rateLimited,
                    minute.admittedTokens))
        }
        lines.append(
            String(
                format: "steady state: %.1f%% of the quota used, %.2f%% of %d requests answered 429, burst %.2f",
                (result.run.utilization[name] ?? 0) * 100, (result.run.rateLimitedShare[name] ?? 0) * 100,
                result.run.requests[name] ?? 0, result.run.burst[name] ?? 0))
        lines.append(
            "after the drain: \(result.chunks) chunks done, \(result.failedCalls) failed; \(result.lines) lines exported, \(result.distinctLines) distinct; \(result.resentAfterCommit.count) committed calls sent again; \(result.answeredTwice) answered twice (in flight at the kill); survivors exited \(result.survivorStatuses)"
        )
        return lines.joined(separator: "\n")
    }
}
