import Call
import Foundation

/// How `sluice run` works the queue.
public struct RunConfiguration: Sendable {
    /// The JSONL output file.
    public var outputPath: String
    /// Deployments by name.
    public var deployments: [String: Deployment]
    /// The deployment for pipelines that name none (`--deployment`).
    public var defaultDeployment: String?
    public var retry: RetryPolicy
    /// How long a claimed job stays leased without being finished.
    public var leaseSeconds: Double
    /// Jobs claimed at once by the CPU stages and the collector.
    public var batchSize: Int
    /// Parallel workers for ingest, chunk and prompt.
    public var cpuWorkers: Int
    /// Seconds between progress reports.
    public var progressInterval: Double

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
