import Call
import Catalog
import Chunk
import Collect
import Foundation
import Ingest
import Logging
import Prompt
import Queue
import Reduce
import Scheduler
import ServiceLifecycle
import SluiceCore
import Synchronization

/// Works a queue until it is drained: ingest → chunk → prompt → call → (reduce) → collect, each
/// stage a service that claims its jobs, works them and commits its results with the next stage's
/// jobs, all under one `ServiceGroup` with the run's monitor and the output collector.
///
/// Graceful shutdown (a signal, a drained queue, or a reason to stop such as the budget) stops the
/// stages in the reverse of the pipeline's order, so the collector, last, writes every committed
/// line. The first service that fails stops the group with its error.
///
/// Killing the process at any moment loses nothing: unfinished jobs stay leased by a dead owner and
/// are reclaimed by the next run; the output file is cut back to what the queue committed.
public final class PipelineRunner: Sendable {
    let queue: any JobQueue
    let databasePath: String
    let configuration: RunConfiguration
    let client: ChatCompletionClient
    let logger: Logger
    let counters = RunCounters()
    /// Admission for the call stage (its deployments' states: `statuses()`).
    public let scheduler: Scheduler
    /// `--max-cost`, when set.
    let budget: Budget?
    private let stopReason = Mutex<String?>(nil)
    private let drained = ShutdownFlag()
    /// What `sluice status` was last given of the deployments.
    private let publishedDeployments = Mutex<Data?>(nil)

    /// A runner for one run of `configuration` on `queue`.
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
            clock: configuration.clock,
            // Workers sharing a queue share each deployment's bucket, pauses, breaker and calibration.
            shared: configuration.sharedQueue
                ? QueuePacingStore(queue: queue, deployments: configuration.deployments) : nil)
        // On a queue shared by many workers, the queue keeps one budget for all of them.
        budget = configuration.maxCost.map {
            configuration.sharedQueue ? Budget(limit: $0, sharedIn: queue) : Budget(limit: $0)
        }
    }

    /// Ends the run early (calls in flight finish); the reason is in the summary.
    func stop(reason: String) {
        stopReason.withLock { if $0 == nil { $0 = reason } }
        queue.signals.notifyWatchers()
    }

    /// Whether something asked the run to end early.
    var stopRequested: Bool { stopReason.withLock { $0 != nil } }

    /// The monitor found no job ready or leased.
    func markDrained() { drained.set() }

    /// Runs until every job is done or failed for good, the run is stopped (a signal in
    /// `configuration.shutdownSignals`, the budget), or the task is cancelled.
    public func run(progress: @escaping @Sendable (RunProgress) -> Void) async throws -> RunSummary {
        try await run(progress: progress, cancelling: false)
    }

    /// Runs the stages, or (`cancelling`) only the batch lane, until its batches are done, with the
    /// collector that writes their lines.
    func run(progress: @escaping @Sendable (RunProgress) -> Void, cancelling: Bool) async throws -> RunSummary {
        let shared = configuration.sharedQueue
        let lock = shared ? nil : try configuration.runLock ?? RunLock(databasePath: databasePath)
        let owner = try LeaseOwner(databasePath: shared ? nil : databasePath)
        let dead = owner.deadOwners(among: try await queue.leaseOwners())
        let reclaimed = try await queue.reclaimLeases(owners: dead, expiredBefore: configuration.runClock.now)
        if reclaimed > 0 { logger.info("reclaimed \(reclaimed) jobs leased by stopped processes") }
        try await beatAndReclaim(owner: owner, now: configuration.runClock.now)
        let spentBefore = try await queue.spendReport(documents: 0).total
        counters.update { $0.spentBefore = spentBefore }
        budget?.start(spent: spentBefore)
        let output = shared ? nil : try await openOutput(owner: owner)
        var groupLogger = logger
        groupLogger.logLevel = max(logger.logLevel, .warning)
        let lane = batchLane(endsWhenIdle: cancelling)
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: services(owner: owner, output: output, lane: lane, progress: progress).filter {
                    !cancelling || ["collect", "monitor", "batch"].contains($0.serviceName)
                },
                gracefulShutdownSignals: configuration.shutdownSignals, logger: groupLogger))
        do {
            try await group.run()
        } catch {
            try? await lane?.shutdown()
            throw error
        }
        try await lane?.shutdown()
        try? await queue.forgetWorker(owner: owner.id)
        withExtendedLifetime((owner, lock)) {}
        return try await summary(interrupted: Task.isCancelled || (!drained.isSet && !stopRequested))
    }

    /// The run's output file, cut back to what the queue committed (recorded before it is created,
    /// so a crash before the first line leaves a file this queue owns).
    private func openOutput(owner: LeaseOwner) async throws -> OutputFile {
        let committed = try await queue.committedOutputLength(path: configuration.outputPath)
        try Self.checkOutput(
            configuration.outputPath, database: databasePath, recorded: committed != nil,
            replaces: configuration.replacesOutput)
        if committed == nil {
            try await queue.commitCollected(
                jobIDs: [], owner: owner.id, path: configuration.outputPath, length: 0,
                now: configuration.runClock.now)
        }
        return try OutputFile(path: configuration.outputPath, committedLength: committed ?? 0)
    }

    /// Says this worker is alive, and gives the leases of dead workers back: those on this host whose
    /// lock is free (at once), and those of any host whose heartbeat is older than
    /// `configuration.workerTimeout` (a killed or cut-off host's jobs go to the others).
    func beatAndReclaim(owner: LeaseOwner, now: Double) async throws {
        try await queue.heartbeat(owner: owner.id, now: now)
        let silent = try await queue.workers().filter {
            $0.owner != owner.id && $0.heartbeat < now - configuration.workerTimeout
        }.map(\.owner)
        let dead = Set(owner.deadOwners(among: try await queue.leaseOwners())).union(silent)
        guard !dead.isEmpty else { return }
        let reclaimed = try await queue.reclaimLeases(owners: dead.sorted(), expiredBefore: 0)
        for worker in silent { try await queue.forgetWorker(owner: worker) }
        if reclaimed > 0 { logger.info("reclaimed \(reclaimed) jobs of stopped workers") }
    }

    /// The run's services, in the order of the pipeline: graceful shutdown goes in reverse, so the
    /// call stage stops claiming first and the collector, last, writes what the others committed.
    private func services(
        owner: LeaseOwner, output: OutputFile?, lane: BatchLaneParts?,
        progress: @escaping @Sendable (RunProgress) -> Void
    ) -> [ServiceGroupConfiguration.ServiceConfiguration] {
        let id = owner.id
        var cpu = StageConfiguration(
            width: configuration.cpuWorkers, batchSize: configuration.batchSize,
            leaseSeconds: configuration.leaseSeconds)
        cpu.fallbackInterval = configuration.fallbackInterval
        cpu.clock = configuration.runClock
        cpu.workerTimeout = configuration.workerTimeout
        var call = StageConfiguration(
            // A call handed to the batch lane frees its slot at once: a few are enough for it.
            width: max(1, configuration.deploymentQuotas.map(\.maxConcurrency).reduce(0, +) + (lane == nil ? 0 : 16)),
            batchSize: configuration.batchSize, leaseSeconds: configuration.leaseSeconds)
        call.commitInterval = .milliseconds(20)
        call.fallbackInterval = configuration.fallbackInterval
        call.clock = configuration.runClock
        call.shutdown = .finish(grace: configuration.callShutdownGrace)
        let callWorker = CallWorker(
            configuration: configuration.callConfiguration, queue: queue, client: client, scheduler: scheduler,
            budget: budget, counters: counters, owner: id, lane: lane?.lane,
            stop: { [weak self] in self?.stop(reason: $0) })
        var services: [(any Service, String)] = [
            (
                CollectService(
                    queue: queue, owner: id, output: output, counters: counters,
                    leaseSeconds: configuration.leaseSeconds, fallbackInterval: configuration.fallbackInterval,
                    clock: configuration.runClock),
                "collect"
            ),
            (RunMonitor(runner: self, owner: owner, progress: progress), "monitor"),
            (
                StageService(
                    worker: IngestWorker(queue: queue, logger: logger), queue: queue, owner: id, configuration: cpu),
                "ingest"
            ),
            (StageService(worker: ChunkWorker(queue: queue), queue: queue, owner: id, configuration: cpu), "chunk"),
            (
                StageService(
                    worker: PromptWorker(queue: queue, catalog: configuration.catalog), queue: queue, owner: id,
                    configuration: cpu), "prompt"
            ),
            (
                StageService(
                    worker: ReduceWorker(queue: queue, catalog: configuration.catalog), queue: queue, owner: id,
                    configuration: cpu), "reduce"
            ),
            (StageService(worker: callWorker, queue: queue, owner: id, configuration: call), "call"),
        ]
        if let lane {
            // After the call stage: it stops taking calls first, and gives back those not packed.
            services.append((lane.service(worker: callWorker, queue: queue, owner: id), "batch"))
        }
        // Any service that ends (the monitor: drained or stopped) shuts the whole group down; one that
        // fails cancels it.
        return services.map { service, name in
            .init(
                service: service, successTerminationBehavior: .gracefullyShutdownGroup,
                failureTerminationBehavior: .cancelGroup, serviceName: name)
        }
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
        let values = self.counters.snapshot
        let deployments = await scheduler.statuses()
        // For `sluice status` in another process (written when it changed).
        let encoded = try JSONEncoder.sluice.encode(deployments)
        if publishedDeployments.withLock({ $0 != encoded }) {
            try await queue.setRunState(key: "deployments", value: encoded)
            publishedDeployments.withLock { $0 = encoded }
        }
        return RunProgress(
            statistics: statistics, elapsedSeconds: Date().timeIntervalSince(self.counters.started),
            calls: values.calls,
            rateLimited: values.rateLimited, promptTokens: values.promptTokens,
            completionTokens: values.completionTokens, linesWritten: values.linesWritten,
            deployments: deployments, warnings: await scheduler.takeWarnings(),
            cost: values.spentBefore + values.cost,
            costByDeployment: values.costByDeployment,
            batches: configuration.batch.isEmpty ? [] : try await queue.batches(all: false))
    }

    private func summary(interrupted: Bool) async throws -> RunSummary {
        let statistics = try await queue.statistics()
        let values = self.counters.snapshot
        let wall = Date().timeIntervalSince(self.counters.started)
        var summary = RunSummary(
            documents: statistics.documents["ok"] ?? 0, skippedDocuments: statistics.documents["skipped"] ?? 0,
            chunks: JobState.allCases.reduce(0) { $0 + statistics.count(.prompt, $1) },
            chunksSucceeded: statistics.chunkCalls(.done),
            chunksFailed: statistics.chunkCalls(.failed) + statistics.count(.prompt, .failed),
            calls: values.calls, reused: values.reused, rateLimited: values.rateLimited,
            failuresByClass: statistics.failuresByClass, promptTokens: values.promptTokens,
            completionTokens: values.completionTokens, wallSeconds: wall,
            tokensPerMinute: wall > 0 ? Double(values.promptTokens + values.completionTokens) / wall * 60 : 0,
            output: configuration.outputPath, pending: statistics.pending, interrupted: interrupted,
            deployments: await scheduler.statuses(), stoppedBecause: stopReason.withLock { $0 },
            warnings: await scheduler.warnings)
        summary.reduceCalls = statistics.reduceCalls[JobState.done.rawValue] ?? 0
        summary.reduceFailed =
            (statistics.reduceCalls[JobState.failed.rawValue] ?? 0) + statistics.count(.reduce, .failed)
        summary.reduceWaiting = statistics.count(.reduce, .waiting)
        summary.invalidOutputs = values.invalidOutputs
        summary.cost = values.cost
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
