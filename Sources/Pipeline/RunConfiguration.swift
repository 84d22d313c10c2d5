import Call
import Catalog
import Foundation
import Scheduler
import ServiceLifecycle
import SluiceCore
import UnixSignals

/// How `sluice run` works the queue.
public struct RunConfiguration: Sendable {
    /// The JSONL output file.
    public var outputPath: String
    /// An existing output file that no run of this queue wrote may be replaced (`--force`); by
    /// default it is refused, never truncated.
    public var replacesOutput = false
    /// Deployments by name.
    public var deployments: [String: Deployment]
    /// The deployment for pipelines that name none (`--deployment`).
    public var defaultDeployment: String?
    /// How failed calls are retried.
    public var retry: RetryPolicy
    /// How long a claimed job stays leased without being finished.
    public var leaseSeconds: Double
    /// Jobs claimed at once by the CPU stages and the collector.
    public var batchSize: Int
    /// Parallel workers for ingest, chunk and prompt.
    public var cpuWorkers: Int
    /// Seconds between progress reports.
    public var progressInterval: Double
    /// Quota, priority and weight per deployment; a deployment without an entry is standard, paced by
    /// its `tokensPerMinute` / `requestsPerMinute` (if any), capped at its `maxConcurrency`.
    public var quotas: [String: DeploymentQuota] = [:]
    /// Named pools: a pipeline's `deployment` may name one. Without a name, every deployment is the pool.
    public var pools: [String: [String]] = [:]
    /// How the call stage is paced.
    public var scheduler = SchedulerConfiguration()
    /// The scheduler's time: real, or sped up to match a scaled simulator.
    public var clock: any SchedulerClock = ScaledClock()
    /// Model facts and prices (the built-in catalog with the deployments file's overrides).
    public var catalog = ModelCatalog.builtIn
    /// How each deployment is priced (default: per token at the global list price).
    public var billing: [String: Billing] = [:]
    /// Each deployment's model, for prices when a reply does not name one (default: the pipeline's).
    public var models: [String: String] = [:]
    /// Stop admitting calls before the recorded spend plus the calls in flight could exceed this.
    public var maxCost: Double?
    /// Seconds between looks for jobs held by dead owners while running.
    public var reclaimInterval: Double = 5
    /// A worker whose last heartbeat is older than this (seconds) is dead: its leases go to the others.
    /// Workers beat every `reclaimInterval`.
    public var workerTimeout: Double = 30
    /// The queue is shared by workers on many hosts (PostgreSQL): no run lock and no owner lock files
    /// (liveness is the heartbeat), and no output file — each worker commits its lines in the queue,
    /// and `sluice export` writes them. `outputPath` is then not used.
    public var sharedQueue = false
    /// The database's run lock, when the caller took it before enqueueing (nil: the runner takes it).
    public var runLock: RunLock?
    /// Signals that shut the run down gracefully (`sluice run`: SIGINT and SIGTERM; none in a library).
    public var shutdownSignals: [UnixSignal] = []
    /// How long calls in flight may finish after a graceful shutdown begins (they are paid for once
    /// sent) before they are cancelled and released.
    public var callShutdownGrace: Duration = .seconds(10)
    /// How long an idle worker waits before it looks at the queue again: how soon jobs written by
    /// another process on the same database are found (this process's own commits wake it at once).
    public var fallbackInterval: Duration = .seconds(1)
    /// The time leases, retries and the monitor go by (the scheduler's quota time is `clock`).
    public var runClock: any RunClock = SystemRunClock()
    /// The Global Batch deployments among `deployments`, by name: their calls go through the batch
    /// lane, not the scheduler.
    public var batch: [String: BatchSettings] = [:]
    /// How the batch lane works (its tick and linger times).
    public var batchLane = BatchLaneService.Configuration()
    /// Told what the user should know that is not an error (batches left running at a stop).
    public var notice: @Sendable (String) -> Void = { _ in }

    /// The scheduler's view of every deployment.
    var deploymentQuotas: [DeploymentQuota] {
        deployments.values.filter { batch[$0.name] == nil }.sorted { $0.name < $1.name }.map { deployment in
            quotas[deployment.name]
                ?? DeploymentQuota(
                    name: deployment.name,
                    kind: .standard(
                        tokensPerMinute: deployment.tokensPerMinute, requestsPerMinute: deployment.requestsPerMinute),
                    maxConcurrency: deployment.maxConcurrency)
        }
    }

    /// The deployments a pipeline's calls may go to: the command line's choice (`defaultDeployment`),
    /// else the pool or deployment the pipeline names, else all of them. An unknown name stays in the
    /// pool, so the scheduler stops the run with a message that names it.
    func pool(named name: String?) -> [String] {
        Self.pool(named: name, chosen: defaultDeployment, pools: pools, deployments: deployments.keys)
    }

    /// What the call stage needs: deployments, retries, pools and prices.
    var callConfiguration: CallConfiguration {
        let (chosen, pools, names) = (defaultDeployment, pools, Array(deployments.keys))
        var configuration = CallConfiguration(
            deployments: deployments, retry: retry,
            pool: { Self.pool(named: $0, chosen: chosen, pools: pools, deployments: names) }, catalog: catalog,
            billing: billing, models: models)
        configuration.clock = runClock
        return configuration
    }

    /// ``pool(named:)`` for a set of deployment names and pools (what `sluice estimate` prices).
    public static func pool(
        named name: String?, chosen: String?, pools: [String: [String]], deployments: some Collection<String>
    ) -> [String] {
        if let chosen = chosen ?? name { return pools[chosen] ?? [chosen] }
        return deployments.sorted()
    }

    /// Creates it from its fields.
    public init(
        outputPath: String, deployments: [String: Deployment], defaultDeployment: String? = nil,
        retry: RetryPolicy = RetryPolicy(), leaseSeconds: Double = 600, batchSize: Int = 64,
        cpuWorkers: Int = ProcessInfo.processInfo.activeProcessorCount, progressInterval: Double = 1
    ) {
        self.outputPath = outputPath
        self.deployments = deployments
        self.defaultDeployment = defaultDeployment
        self.retry = retry
        self.leaseSeconds = leaseSeconds
        self.batchSize = batchSize
        self.cpuWorkers = max(1, cpuWorkers)
        self.progressInterval = progressInterval
    }
}
