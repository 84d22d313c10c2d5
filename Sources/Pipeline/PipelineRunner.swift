import Call
import Catalog
import Chunk
import Collect
import Foundation
import Ingest
import Logging
import Prompt
import Queue
import Scheduler
import SluiceCore
import Synchronization
import Tokenizer

/// Works a queue until it is drained: ingest → chunk → prompt → call → collect, each stage a worker
/// that claims jobs, processes them and commits its results with the next stage's jobs.
///
/// Killing the process at any moment loses nothing: unfinished jobs stay leased by a dead owner and
/// are reclaimed by the next run; the output file is cut back to what the queue committed.
public final class PipelineRunner: Sendable {
    let queue: any JobQueue
    let databasePath: String
    let configuration: RunConfiguration
    let client: ChatCompletionClient
    let logger: Logger
    let metrics = RunMetrics()
    /// Admission for the call stage (its deployments' states: `statuses()`).
    public let scheduler: Scheduler
    /// `--max-cost`, when set.
    let budget: Budget?
    private let finished = Atomic<Bool>(false)
    private let stopReason = Mutex<String?>(nil)

    public init(
        queue: any JobQueue, databasePath: String, configuration: RunConfiguration, client: ChatCompletionClient,
        logger: Logger = Logger(label: "sluice.pipeline")
    ) {
        self.queue = queue
        self.databasePath = databasePath
        self.configuration = configuration
        self.client = client
        self.logger = logger
        scheduler = Scheduler(
            deployments: configuration.deploymentQuotas, configuration: configuration.scheduler,
            clock: configuration.clock)
        budget = configuration.maxCost.map(Budget.init(limit:))
    }

    /// Ends the run early (calls in flight finish); the reason is in the summary.
    func stop(reason: String) {
        stopReason.withLock { if $0 == nil { $0 = reason } }
        finished.store(true, ordering: .relaxed)
    }

    /// Per-run tools: the renderer and chunker of its pipeline, what the catalog knows of its model,
    /// and the schema its replies must match.
    struct RunContext: Sendable {
        let run: RunRecord
        let renderer: PromptRenderer
        let chunker: Chunker
        let facts: ModelFacts?
        let schema: JSONSchema?

        /// A chunk's call: the rendered request, delivered to the document's reduce in map-reduce pipelines.
        func call(for input: PromptInput) throws -> CallInput {
            var call = try renderer.render(input)
            if run.pipeline.reduce != nil {
                call.delivery = PartDelivery(
                    key: JobKey.reduce(input.document, pipelineHash: run.pipelineHash, level: 0), part: input.chunk)
            }
            return call
        }

        /// Why a request cannot fit the model's context, before it is sent; nil when it fits.
        func overflow(_ call: CallInput) -> String? {
            guard let facts else { return nil }
            let maxTokens = call.charge / max(1, run.pipeline.n) - call.promptTokens
            let total = call.promptTokens + maxTokens
            guard total > facts.contextWindow else { return nil }
            let what = call.reduce.map { "reduce level \($0.level) group \($0.group + 1)" } ?? "chunk \(call.chunk + 1)"
            return
                "\(call.document.path) \(what): the prompt is \(call.promptTokens) tokens and max_tokens \(maxTokens), \(total) in all: \(total - facts.contextWindow) over \(facts.name)'s context of \(facts.contextWindow) (smaller chunking.max_tokens or max_tokens)"
        }
    }

    /// Runs until every job is done or failed for good, or the task is cancelled.
    public func run(progress: @escaping @Sendable (RunProgress) -> Void) async throws -> RunSummary {
        let lock = try configuration.runLock ?? RunLock(databasePath: databasePath)
        let owner = try LeaseOwner(databasePath: databasePath)
        let dead = owner.deadOwners(among: try await queue.leaseOwners())
        let reclaimed = try await queue.reclaimLeases(owners: dead, expiredBefore: Date().timeIntervalSince1970)
        if reclaimed > 0 { logger.info("reclaimed \(reclaimed) jobs leased by stopped processes") }
        let spentBefore = try await queue.spendReport(documents: 0).total
        metrics.update { $0.spentBefore = spentBefore }
        budget?.start(spent: spentBefore)
        let contexts = RunContexts(queue: queue, catalog: configuration.catalog)
        try await contexts.load()
        let committed = try await queue.committedOutputLength(path: configuration.outputPath)
        try Self.checkOutput(
            configuration.outputPath, database: databasePath, recorded: committed != nil,
            replaces: configuration.replacesOutput)
        if committed == nil {
            // Recorded before it is created: a crash before the first line leaves a file this queue owns.
            try await queue.commitCollected(
                jobIDs: [], owner: owner.id, path: configuration.outputPath, length: 0,
                now: Date().timeIntervalSince1970)
        }
        let output = try OutputFile(path: configuration.outputPath, committedLength: committed ?? 0)
        let workers = Workers(runner: self, owner: owner.id, contexts: contexts)
        let outputBox = OutputBox(output)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await workers.cpuStage(.ingest, width: self.configuration.cpuWorkers) }
            group.addTask { try await workers.cpuStage(.chunk, width: self.configuration.cpuWorkers) }
            group.addTask { try await workers.cpuStage(.prompt, width: self.configuration.cpuWorkers) }
            group.addTask { try await workers.cpuStage(.reduce, width: self.configuration.cpuWorkers) }
            group.addTask { try await workers.callStage() }
            group.addTask { try await workers.collectStage(outputBox) }
            group.addTask { try await self.monitor(owner: owner, progress: progress) }
            do {
                // The first stage that fails stops the run (waitForAll would wait for the others,
                // which keep waiting for work that stage will never hand on).
                while try await group.next() != nil {}
            } catch {
                finished.store(true, ordering: .relaxed)
                group.cancelAll()
                throw error
            }
        }
        // Results committed by calls that finished while stopping still get their lines.
        try await workers.collectStage(outputBox, drain: true)
        withExtendedLifetime((owner, lock)) {}
        return try await summary(interrupted: Task.isCancelled)
    }

    var isFinished: Bool { finished.load(ordering: .relaxed) }

    /// Reports progress, decides when the queue is drained, and every few seconds hands back the jobs
    /// of owners that died while this run works. (Expired leases are reclaimed only at the start: while
    /// running, the one run on this database holds them, some waiting long for admission.)
    private func monitor(owner: LeaseOwner, progress: @escaping @Sendable (RunProgress) -> Void) async throws {
        var lastReport = Date.distantPast
        var lastReclaim = Date()
        while !Task.isCancelled {
            let now = Date()
            if now.timeIntervalSince(lastReport) >= configuration.progressInterval {
                progress(try await makeProgress(try await queue.statistics()))
                lastReport = now
            }
            if isFinished { return }
            if try await !queue.hasPendingWork() {
                finished.store(true, ordering: .relaxed)
                progress(try await makeProgress(try await queue.statistics()))
                return
            }
            if now.timeIntervalSince(lastReclaim) > configuration.reclaimInterval {
                let dead = owner.deadOwners(among: try await queue.leaseOwners())
                let reclaimed = dead.isEmpty ? 0 : try await queue.reclaimLeases(owners: dead, expiredBefore: 0)
                if reclaimed > 0 { logger.info("reclaimed \(reclaimed) jobs of stopped processes while running") }
                lastReclaim = now
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
        finished.store(true, ordering: .relaxed)
    }

    /// Refuses an output path that is the queue database (or its -wal, -shm or -journal file), and an
    /// existing non-empty file no run of this queue wrote, unless it may be replaced: the collector
    /// cuts its file back to what was committed, which for a file it never wrote is nothing.
    static func checkOutput(_ path: String, database: String, recorded: Bool, replaces: Bool) throws {
        var output = stat()
        let exists = stat(path, &output) == 0
        let (outputName, databaseName) = (resolvedName(path), resolvedName(database))
        for suffix in ["", "-wal", "-shm", "-journal"] {
            var file = stat()
            let sameFile =
                exists && stat(database + suffix, &file) == 0 && file.st_dev == output.st_dev
                && file.st_ino == output.st_ino
            if sameFile || outputName == databaseName + suffix {
                let what = suffix.isEmpty ? "the queue database" : "the queue database's \(suffix) file"
                throw SluiceError(
                    .invalidConfiguration, "\(path): the output would overwrite \(what); choose another --output")
            }
        }
        guard exists, !recorded, !replaces, output.st_mode & S_IFMT == S_IFREG, output.st_size > 0 else { return }
        throw SluiceError(
            .invalidConfiguration,
            "\(path): exists with \(output.st_size) bytes that no run of this queue wrote; choose another --output, or pass --force to replace it"
        )
    }

    /// A path with its folder's symbolic links resolved (the file itself need not exist).
    private static func resolvedName(_ path: String) -> String {
        let url = URL(fileURLWithPath: path).standardizedFileURL
        let folder = DirectoryWalker.realPath(url.deletingLastPathComponent().path)
        return folder.map { $0 + "/" + url.lastPathComponent } ?? url.path
    }

    func makeProgress(_ statistics: QueueStatistics) async throws -> RunProgress {
        let counters = metrics.snapshot
        let deployments = await scheduler.statuses()
        // For `sluice status` in another process.
        try await queue.setRunState(key: "deployments", value: try JSONEncoder.sluice.encode(deployments))
        return RunProgress(
            statistics: statistics, elapsedSeconds: Date().timeIntervalSince(metrics.started), calls: counters.calls,
            rateLimited: counters.rateLimited, promptTokens: counters.promptTokens,
            completionTokens: counters.completionTokens, linesWritten: counters.linesWritten,
            deployments: deployments, warnings: await scheduler.takeWarnings(),
            cost: counters.spentBefore + counters.cost,
            costByDeployment: counters.costByDeployment)
    }

    private func summary(interrupted: Bool) async throws -> RunSummary {
        let statistics = try await queue.statistics()
        let counters = metrics.snapshot
        let wall = Date().timeIntervalSince(metrics.started)
        var summary = RunSummary(
            documents: statistics.documents["ok"] ?? 0, skippedDocuments: statistics.documents["skipped"] ?? 0,
            chunks: JobState.allCases.reduce(0) { $0 + statistics.count(.prompt, $1) },
            chunksSucceeded: statistics.chunkCalls(.done),
            chunksFailed: statistics.chunkCalls(.failed) + statistics.count(.prompt, .failed),
            calls: counters.calls, reused: counters.reused, rateLimited: counters.rateLimited,
            failuresByClass: statistics.failuresByClass, promptTokens: counters.promptTokens,
            completionTokens: counters.completionTokens, wallSeconds: wall,
            tokensPerMinute: wall > 0 ? Double(counters.promptTokens + counters.completionTokens) / wall * 60 : 0,
            output: configuration.outputPath, pending: statistics.pending, interrupted: interrupted,
            deployments: await scheduler.statuses(), stoppedBecause: stopReason.withLock { $0 },
            warnings: await scheduler.warnings)
        summary.reduceCalls = statistics.reduceCalls[JobState.done.rawValue] ?? 0
        summary.reduceFailed =
            (statistics.reduceCalls[JobState.failed.rawValue] ?? 0) + statistics.count(.reduce, .failed)
        summary.reduceWaiting = statistics.count(.reduce, .waiting)
        summary.invalidOutputs = counters.invalidOutputs
        summary.cost = counters.cost
        summary.spend = try await queue.spendReport(documents: 5)
        for (name, billing) in configuration.billing {
            if case .provisioned(let ptu?, let type) = billing,
                let hourly = configuration.catalog.provisionedHourlyCost(ptu: ptu, type: type)
            {
                summary.provisionedCost[name] = hourly * wall / 3_600
            }
        }
        return summary
    }
}

/// The output file, used by the collector task only.
final class OutputBox: @unchecked Sendable {
    // Unchecked: only the single collect worker task touches the file.
    let file: OutputFile
    init(_ file: OutputFile) { self.file = file }
}
