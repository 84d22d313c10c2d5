import ArgumentParser
import Call
import Catalog
import Foundation
import Pipeline
import Queue
import Scheduler
import SluiceCore

struct EstimateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "estimate",
        abstract: "What a run will send, cost and take, before any money is spent.",
        discussion: """
            Reads, chunks and renders every document as a run would (nothing is called), so the input \
            tokens are exact. Output tokens are given as an upper bound (max_tokens) and as an expected \
            value: from --sample N calls to the deployment, or --output-ratio. Time is at each \
            deployment's TPM/RPM or PTU capacity, and with all of them together. Chunks already paid for \
            in the database are left out. Without a directory, estimates the runs enqueued in the database.
            """
    )

    @Argument(help: "The directory of documents (default: the runs enqueued in the database).")
    var directory: String?

    @Option(help: "The pipeline definition (YAML); required with a directory.")
    var pipeline: String?

    @OptionGroup var database: DatabaseOptions

    @OptionGroup var selection: SelectionOptions

    @OptionGroup(title: "Deployments") var target: DeploymentOptions

    @Option(help: "Expected output tokens as a fraction of max_tokens, when no sample is run.")
    var outputRatio = 0.5

    @Option(help: "Send this many of the run's requests (spread over the corpus) to measure the output length.")
    var sample = 0

    @Flag(help: "Run the sample against the built-in simulator.")
    var simulate = false

    @Option(help: "The time the provisioned comparison must finish in, in hours (default: the pay-as-you-go time).")
    var hours: Double?

    @Flag(help: "Print the estimate as JSON.")
    var json = false

    func validate() throws {
        if directory != nil && pipeline == nil { throw ValidationError("--pipeline is required with a directory") }
        guard outputRatio >= 0 && outputRatio <= 1 else { throw ValidationError("--output-ratio must be in 0...1") }
        if let hours, !(hours > 0) { throw ValidationError("--hours must be above 0") }
    }

    func run() async throws {
        try await reportingErrors {
            let file = try target.selection.loadFile(database: database.database)
            let catalog = file?.catalog ?? .builtIn
            let queue: (any JobQueue)? =
                database.isPostgres || FileManager.default.fileExists(atPath: database.database)
                ? try await database.openQueue() : nil
            // What to estimate: the directory with the pipeline, or every run in the database.
            var work: [(root: String, pipeline: PipelineDefinition)] = []
            if let directory, let pipeline {
                work = [(directory, try selection.apply(to: PipelineFile.load(pipeline, catalog: catalog)))]
            } else if let queue {
                let runs = try await queue.runs()
                let chosen = try pipeline.map { try PipelineFile.load($0, catalog: catalog).name }
                work = runs.filter { chosen == nil || $0.pipeline.name == chosen }.map { ($0.root, $0.pipeline) }
            }
            guard !work.isEmpty else {
                throw SluiceError(
                    .notFound, "nothing to estimate: give a directory and --pipeline, or enqueue a run first")
            }
            var estimates: [Estimate] = []
            for (root, definition) in work {
                var request = Estimator.Request()
                request.outputRatio = outputRatio
                request.sample = sample
                request.simulate = simulate
                request.hours = hours
                estimates.append(
                    try await Estimator.estimate(
                        root: root, pipeline: definition, selection: target.selection, file: file,
                        database: database.database, queue: queue, request: request, note: Terminal.status))
            }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
                encoder.keyEncodingStrategy = .convertToSnakeCase
                let value = estimates.count == 1 ? try encoder.encode(estimates[0]) : try encoder.encode(estimates)
                print(String(decoding: value, as: UTF8.self))
            } else {
                for (index, estimate) in estimates.enumerated() {
                    if estimates.count > 1 { print("\(work[index].root) · \(work[index].pipeline.name)") }
                    for line in Self.lines(estimate) { print(line) }
                }
            }
        }
    }

    static func lines(_ estimate: Estimate) -> [String] {
        var lines = [
            "documents: \(estimate.documents) (\(estimate.skipped) skipped), model \(estimate.model)",
            "calls: \(estimate.calls) chunk calls"
                + (estimate.alreadyDone > 0 ? " (\(estimate.alreadyDone) already done, not counted)" : "")
                + (estimate.reduceCalls > 0 ? ", about \(estimate.reduceCalls) reduce calls" : ""),
            "input tokens: \(estimate.inputTokens) (exact)"
                + (estimate.reduceCalls > 0 ? " + about \(estimate.reduceInputTokensExpected) in reduce prompts" : ""),
            "output tokens: at most \(estimate.outputTokensMax + estimate.reduceOutputTokensMax), expected \(estimate.outputTokensExpected + estimate.reduceOutputTokensExpected) (\(String(format: "%.0f%%", estimate.outputRatio * 100)) of max_tokens: \(estimate.outputRatioSource))",
            "quota charge: \(estimate.charge) tokens (prompt + max_tokens per call, what TPM counts)",
        ]
        for overflow in estimate.overflows.prefix(10) { lines.append("does not fit: " + overflow) }
        if estimate.overflows.count > 10 {
            lines.append("... and \(estimate.overflows.count - 10) more that do not fit")
        }
        lines.append("deployment              kind         cost expected    cost at most    time at its quota")
        for deployment in estimate.deployments {
            let time =
                deployment.seconds.map { duration($0) + " (\(deployment.limitedBy ?? ""))" }
                ?? "unknown (no limits given)"
            lines.append(
                deployment.name.padding(toLength: 24, withPad: " ", startingAt: 0)
                    + deployment.kind.padding(toLength: 13, withPad: " ", startingAt: 0)
                    + (deployment.costExpected.map(money) ?? "?").leftPadded(13)
                    + (deployment.costMax.map(money) ?? "?").leftPadded(16) + "    " + time)
            if let note = deployment.note { lines.append("  " + note) }
        }
        if let seconds = estimate.expectedSeconds, estimate.deployments.count > 1 {
            lines.append("all deployments together: \(duration(seconds))")
        }
        if let lanes = estimate.lanes {
            let saving = lanes.onlineCost > 0 ? (1 - lanes.batchCost / lanes.onlineCost) * 100 : 0
            var line =
                "lanes: online (global standard) \(money(lanes.onlineCost)) expected; batch \(money(lanes.batchCost)) (\(String(format: "%.0f%%", saving)) less), answered within 24 h a wave"
            if let waves = lanes.waves, let quota = lanes.enqueuedTokens {
                line += "; \(waves) wave\(waves == 1 ? "" : "s") within an enqueued-token quota of \(quota)"
            }
            lines.append(line)
        }
        if let ptu = estimate.provisioned {
            lines.append(
                "provisioned \(ptu.model): \(ptu.ptus) PTUs finish it in \(duration(ptu.hours * 3_600)) for \(money(ptu.ptuCost)) (\(money(ptu.hourlyPerPTU))/PTU-hour); pay-as-you-go (global): \(money(ptu.payAsYouGoCost))"
            )
            func volume(_ documents: Double?) -> String {
                documents.map { String(format: "PTUs are cheaper from %.0f documents like these a month", $0) }
                    ?? "never: each document costs more on PTUs than pay-as-you-go at list price"
            }
            lines.append(
                "  break-even with a monthly reservation (\(money(ptu.monthlyPerPTU))/PTU-month): "
                    + volume(ptu.breakEvenDocumentsPerMonthReserved))
            lines.append("  break-even paid by the hour: " + volume(ptu.breakEvenDocumentsPerMonthHourly))
        }
        lines.append(
            "prices: list prices of \(estimate.catalogDate) in \(estimate.currency) (override in deployments.yaml)")
        return lines
    }
}

/// Seconds as h/min/s.
func duration(_ seconds: Double) -> String {
    if seconds >= 3_600 { return String(format: "%.1f h", seconds / 3_600) }
    if seconds >= 60 { return String(format: "%.1f min", seconds / 60) }
    return String(format: "%.1f s", seconds)
}
