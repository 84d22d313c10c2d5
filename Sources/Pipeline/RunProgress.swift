import Foundation
import Queue
import Scheduler

/// A progress report during a run.
public struct RunProgress: Sendable {
    /// The queue's counts.
    public var statistics: QueueStatistics
    /// Seconds since the run started.
    public var elapsedSeconds: Double
    /// Calls made.
    public var calls: Int
    /// Calls answered 429.
    public var rateLimited: Int
    /// Prompt tokens billed.
    public var promptTokens: Int
    /// Completion tokens billed.
    public var completionTokens: Int
    /// JSONL lines written.
    public var linesWritten: Int
    /// Each deployment's state: in flight, tokens in the last minute, 429s, latency, concurrency.
    public var deployments: [DeploymentStatus] = []
    /// New warnings (a deployment stopped, max_tokens over-reserving), each reported once.
    public var warnings: [String] = []
    /// List-price spend recorded in the queue (earlier runs and this one), and this run's per deployment.
    public var cost: Double = 0
    /// Cost so far by deployment.
    public var costByDeployment: [String: Double] = [:]
    /// The batch lane's batches not done (empty without batch deployments).
    public var batches: [BatchRecord] = []
    /// Calls per second since the start.
    public var callsPerSecond: Double { elapsedSeconds > 0 ? Double(calls) / elapsedSeconds : 0 }
    /// Prompt + completion tokens per minute since the start.
    public var tokensPerMinute: Double {
        elapsedSeconds > 0 ? Double(promptTokens + completionTokens) / elapsedSeconds * 60 : 0
    }
    /// Seconds to finish the chunks still to call at the rate so far, if known.
    public var etaSeconds: Double? {
        let remaining =
            statistics.count(.call, .ready) + statistics.count(.call, .leased)
            + statistics.count(.prompt, .ready) + statistics.count(.prompt, .leased)
        let done = statistics.count(.call, .done) + statistics.count(.call, .failed)
        guard elapsedSeconds > 1, calls > 0, done > 0 else { return nil }
        return Double(remaining) / (Double(calls) / elapsedSeconds)
    }
}

/// What a run did, printed at its end.
public struct RunSummary: Sendable, Codable {
    /// Documents enqueued.
    public var documents: Int
    /// Documents skipped.
    public var skippedDocuments: Int
    /// Chunks.
    public var chunks: Int
    /// Chunks whose call succeeded.
    public var chunksSucceeded: Int
    /// Chunks whose call failed for good.
    public var chunksFailed: Int
    /// HTTP calls this process sent (including retries).
    public var calls: Int
    /// Results reused from an identical unit of work instead of calling again.
    public var reused: Int
    /// Calls answered 429.
    public var rateLimited: Int
    /// Terminal failures by class.
    public var failuresByClass: [String: Int]
    /// Prompt tokens billed.
    public var promptTokens: Int
    /// Completion tokens billed.
    public var completionTokens: Int
    /// Wall time of the run.
    public var wallSeconds: Double
    /// Tokens charged per minute on average.
    public var tokensPerMinute: Double
    /// The JSONL file.
    public var output: String
    /// Jobs left (ready or leased) when the run stopped; 0 when drained.
    public var pending: Int
    /// Whether the run was stopped before the queue drained.
    public var interrupted: Bool
    /// Each deployment at the end of the run.
    public var deployments: [DeploymentStatus] = []
    /// Why the run stopped before the queue was drained, when it did (e.g. every deployment's quota used up).
    public var stoppedBecause: String?
    /// Every warning of the run (a deployment stopped, max_tokens over-reserving).
    public var warnings: [String] = []
    /// Reduce calls (map-reduce pipelines) done and failed, and reduce jobs still waiting for parts.
    public var reduceCalls: Int = 0
    /// Reduce jobs that failed.
    public var reduceFailed: Int = 0
    /// Reduce jobs still waiting for parts.
    public var reduceWaiting: Int = 0
    /// Replies that broke the response format and were asked again.
    public var invalidOutputs: Int = 0
    /// List-price cost of this run's calls.
    public var cost: Double = 0
    /// Everything the queue recorded (all runs): per deployment and model, and per document.
    public var spend = SpendReport()
    /// Provisioned deployments: PTUs × hours of this run × the hourly price (paid whether used or not).
    public var provisionedCost: [String: Double] = [:]
}
