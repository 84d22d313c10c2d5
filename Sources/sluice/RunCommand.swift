import ArgumentParser
import Call
import Dispatch
import Foundation
import Pipeline
import Queue
import Scheduler
import Simulator
import SluiceCore
import Synchronization
import UnixSignals

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Enqueue a directory (if given), then work the queue until it is drained.",
        discussion: """
            Running it again resumes: finished work is never redone and committed calls are never sent \
            again, even after kill -9. Configuration comes from AZURE_OPENAI_ENDPOINT, \
            AZURE_OPENAI_API_KEY (or AZURE_OPENAI_AD_TOKEN for a bearer token) and OPENAI_API_VERSION, \
            overridden by the flags. With --simulate the built-in simulator runs in this process and \
            nothing leaves the machine.
            """
    )

    @Argument(help: "A directory of documents to enqueue first.")
    var directory: String?

    @Option(help: "The pipeline definition (YAML); required with a directory.")
    var pipeline: String?

    @OptionGroup var database: DatabaseOptions

    @OptionGroup var selection: SelectionOptions

    @Option(help: "The JSONL output file (default: next to the database, <db>.jsonl).")
    var output: String?

    @OptionGroup(title: "Deployments") var target: DeploymentOptions

    @Option(help: "Attempts per call before a retryable failure becomes terminal (429s do not count).")
    var maxAttempts = 6

    @Flag(help: "Start the built-in simulator in this process and call it.")
    var simulate = false

    @Option(
        help: ArgumentHelp(
            "Stop admitting calls before the spend recorded in this database plus the most the calls in flight can cost would pass this amount (list price, the catalog's currency).",
            valueName: "amount"))
    var maxCost: Double?

    @Option(help: "Seconds between progress lines when stderr is not a terminal.")
    var progressInterval: Double = 5

    @Flag(help: "Print the summary as JSON on stdout.")
    var json = false

    @Flag(help: "Replace an existing output file that no run of this database wrote (by default it is refused).")
    var force = false

    func validate() throws {
        if directory != nil && pipeline == nil { throw ValidationError("--pipeline is required with a directory") }
        if let maxCost, !(maxCost >= 0 && maxCost.isFinite) {
            throw ValidationError("--max-cost must be an amount of at least 0")
        }
        if maxAttempts < 1 { throw ValidationError("--max-attempts must be at least 1, not \(maxAttempts)") }
        if !(progressInterval.isFinite && progressInterval > 0) {
            throw ValidationError("--progress-interval must be a number of seconds above 0")
        }
    }

    func run() async throws {
        // Before anything is enqueued: a second run on this database refuses without touching it.
        // On PostgreSQL many workers share the run: no lock, and the lines stay in the queue (export).
        let shared = database.isPostgres
        if shared && output != nil {
            Terminal.error(
                "--output: on PostgreSQL each worker commits its lines in the queue; write them with `sluice export --db URL --output FILE`"
            )
            throw ExitStatus.configuration
        }
        let lock = shared ? nil : try await reportingErrors { try RunLock(databasePath: database.database) }
        let queue = try await database.openQueue()
        let outputPath = shared ? "" : output ?? database.defaultOutput
        let summary: RunSummary = try await reportingErrors {
            let file = try target.selection.loadFile(database: database.database)
            var definition: PipelineDefinition?
            if let pipeline {
                definition = try selection.apply(
                    to: PipelineFile.load(pipeline, catalog: file?.catalog ?? .builtIn))
            }
            if let directory, let definition {
                let (_, enqueued) = try await Enqueuer(queue: queue).enqueue(root: directory, pipeline: definition)
                for file in enqueued.skippedFiles { Terminal.status("skipped \(file.path): \(file.reason)") }
                Terminal.status(
                    "enqueued \(directory): \(enqueued.new) new, \(enqueued.changed) changed, \(enqueued.unchanged) unchanged, \(enqueued.skipped) skipped, \(enqueued.deleted) deleted"
                )
            }
            if definition == nil {
                // Joining a queue: the model of what was enqueued (last) gives a provisioned
                // deployment's capacity and a standard one's RPM ratio, as a pipeline file would.
                definition = try await queue.runs().last?.pipeline
            }
            let prepared = try await PreparedRun.make(
                queue: queue, database: database, target: target, file: file, definition: definition,
                simulate: simulate, outputPath: outputPath, lock: lock, maxAttempts: maxAttempts, maxCost: maxCost,
                force: force)
            let runner = prepared.runner
            let display = ProgressDisplay(interval: progressInterval)
            // The runner's service group shuts down gracefully on the first signal; the trap tells the
            // user so, and a second signal stops at once (the next run reclaims what this one held).
            let signals = SignalTrap([SIGINT, SIGTERM]) { count in
                if count > 1 {
                    Terminal.status("stopping now")
                    Foundation.exit(ExitStatus.interrupted.rawValue)
                }
                Terminal.status("stopping: finishing what is in flight (signal again to stop at once)")
            }
            defer { withExtendedLifetime(signals) {} }
            let result: Result<RunSummary, any Error>
            do {
                result = .success(try await runner.run { display.show($0) })
            } catch {
                result = .failure(error)
            }
            display.finish()
            try await prepared.shutdown()
            return try result.get()
        }
        printSummary(summary)
        if summary.interrupted || summary.pending > 0 { throw ExitStatus.interrupted }
        if summary.chunksFailed > 0 || !summary.failuresByClass.isEmpty { throw ExitStatus.failures }
    }

    private func printSummary(_ summary: RunSummary) {
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            if let data = try? encoder.encode(summary) { print(String(decoding: data, as: UTF8.self)) }
        }
        let failures = summary.failuresByClass.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }
        var lines = [
            "documents: \(summary.documents) (\(summary.skippedDocuments) skipped)",
            "chunks: \(summary.chunks) (\(summary.chunksSucceeded) succeeded, \(summary.chunksFailed) failed)",
            "calls: \(summary.calls) sent, \(summary.reused) reused from earlier results, \(summary.rateLimited) answered 429",
            "failures: " + (failures.isEmpty ? "none" : failures.joined(separator: ", ")),
            "tokens: \(summary.promptTokens) in, \(summary.completionTokens) out",
            String(format: "wall time: %.1f s, %.0f tokens/min", summary.wallSeconds, summary.tokensPerMinute),
            summary.output.isEmpty
                ? "output: the lines are in the queue (sluice export --db URL --output FILE)"
                : "output: \(summary.output)",
        ]
        if summary.reduceCalls + summary.reduceFailed + summary.reduceWaiting > 0 {
            lines.append(
                "reduce: \(summary.reduceCalls) calls done, \(summary.reduceFailed) failed, \(summary.reduceWaiting) documents waiting for chunks"
            )
        }
        if summary.invalidOutputs > 0 {
            lines.append("replies asked again for breaking the response format: \(summary.invalidOutputs)")
        }
        lines.append("this run: \(money(summary.cost)) at list price")
        lines += spendLines(summary.spend)
        for (name, cost) in summary.provisionedCost.sorted(by: { $0.key < $1.key }) {
            lines.append("  \(name) (provisioned): \(money(cost)) of PTU-hours for this run's wall time")
        }
        lines += deploymentLines(summary.deployments)
        for warning in summary.warnings { lines.append("warning: " + warning) }
        if let reason = summary.stoppedBecause { lines.append("stopped early: " + reason) }
        if summary.pending > 0 { lines.append("stopped with \(summary.pending) jobs pending: run again to resume") }
        for line in lines { Terminal.status(line) }
    }
}

/// Calls a handler on the given signals (instead of the default of terminating), with the number of
/// signals received so far.
final class SignalTrap {
    private let sources: [any DispatchSourceSignal]
    private let received = SignalCounter()

    init(_ signals: [Int32], handler: @escaping @Sendable (Int) -> Void) {
        let received = self.received
        sources = signals.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { handler(received.count.wrappingAdd(1, ordering: .relaxed).newValue) }
            source.resume()
            return source
        }
    }

    deinit { for source in sources { source.cancel() } }
}

/// How many signals a trap has received.
final class SignalCounter: Sendable {
    let count = Atomic<Int>(0)
}
