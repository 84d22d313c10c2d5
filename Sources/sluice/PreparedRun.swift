import Call
import Pipeline
import Queue
import Scheduler
import Simulator
import SluiceCore

/// A pipeline runner set up from the command line (`sluice run`, `sluice cancel`): its deployments,
/// the chat client, and the simulator when `--simulate`.
struct PreparedRun {
    let runner: PipelineRunner
    let client: ChatCompletionClient
    let simulator: SimulatorServer?

    static func make(
        queue: any JobQueue, database: DatabaseOptions, target: DeploymentOptions, file: DeploymentsFile?,
        definition: PipelineDefinition?, simulate: Bool, outputPath: String, lock: RunLock?, maxAttempts: Int,
        maxCost: Double?, force: Bool
    ) async throws -> PreparedRun {
        let shared = database.isPostgres
        var (entries, pools, catalog) = try target.selection.entries(
            file: file, pipeline: definition, simulated: simulate, database: database.database,
            note: Terminal.status)
        let simulator =
            simulate
            ? try await target.selection.startSimulator(for: &entries, catalog: catalog, note: Terminal.status)
            : nil
        let deployments = try DeploymentSelection.resolve(entries, simulated: simulator != nil)
        let quotas = Dictionary(uniqueKeysWithValues: entries.map { ($0.name, $0.quota) })
        let client = ChatCompletionClient(connectionsPerHost: quotas.values.map(\.maxConcurrency).max() ?? 16)
        var configuration = RunConfiguration(
            outputPath: outputPath, deployments: deployments,
            defaultDeployment: target.selection.chosen(among: entries),
            retry: RetryPolicy(maxAttempts: maxAttempts, maxRetryAfterSeconds: target.maxRetryAfter))
        configuration.replacesOutput = force
        configuration.runLock = lock
        configuration.quotas = quotas
        configuration.pools = pools
        configuration.catalog = catalog
        configuration.billing = Dictionary(uniqueKeysWithValues: entries.map { ($0.name, $0.billing) })
        configuration.models = Dictionary(
            uniqueKeysWithValues: entries.compactMap { entry in entry.model.map { (entry.name, $0) } })
        configuration.maxCost = maxCost
        configuration.scheduler.maxRetryAfterSeconds = target.maxRetryAfter
        configuration.clock = ScaledClock(speedUp: target.timeScale)
        configuration.shutdownSignals = [.sigint, .sigterm]
        configuration.sharedQueue = shared
        configuration.batch = Dictionary(
            uniqueKeysWithValues: entries.compactMap { entry in entry.batch.map { (entry.name, $0) } })
        configuration.notice = { Terminal.status($0) }
        // A URL is never shown (it may hold a password): the queue names its database without one.
        let runner = PipelineRunner(
            queue: queue, databasePath: (queue as? PostgresJobQueue)?.location.description ?? database.database,
            configuration: configuration, client: client)
        return PreparedRun(runner: runner, client: client, simulator: simulator)
    }

    /// Shuts the client and the simulator down.
    func shutdown() async throws {
        try await client.shutdown()
        try await simulator?.stop()
    }
}
