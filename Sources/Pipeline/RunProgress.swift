import Foundation
import Queue
import Scheduler

/// A progress report during a run.
public struct RunProgress: Sendable {
    public var statistics: QueueStatistics
    public var elapsedSeconds: Double
    public var calls: Int
    public var rateLimited: Int
    public var promptTokens: Int
    public var completionTokens: Int
    public var linesWritten: Int
    /// Each deployment's state: in flight, tokens in the last minute, 429s, latency, concurrency.
    public var deployments: [DeploymentStatus] = []
    /// New warnings (a deployment stopped, max_tokens over-reserving), each reported once.
    public var warnings: [String] = []
    /// List-price spend recorded in the queue (earlier runs and this one), and this run's per deployment.
    public var cost: Double = 0
    public var costByDeployment: [String: Double] = [:]
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
    public var documents: Int
    public var skippedDocuments: Int
    public var chunks: Int
    public var chunksSucceeded: Int
    public var chunksFailed: Int
    /// HTTP calls this process sent (including retries).
    public var calls: Int
    /// Results reused from an identical unit of work instead of calling again.
    public var reused: Int
    public var rateLimited: Int
    public var failuresByClass: [String: Int]
    public var promptTokens: Int
    public var completionTokens: Int
    public var wallSeconds: Double
    public var tokensPerMinute: Double
    public var output: String
    /// Jobs left (ready or leased) when the run stopped; 0 when drained.
    public var pending: Int
    public var interrupted: Bool
    /// Each deployment at the end of the run.
    public var deployments: [DeploymentStatus] = []
    /// Why the run stopped before the queue was drained, when it did (e.g. every deployment's quota used up).
    public var stoppedBecause: String?
    /// Every warning of the run (a deployment stopped, max_tokens over-reserving).
    public var warnings: [String] = []
    /// Reduce calls (map-reduce pipelines) done and failed, and reduce jobs still waiting for parts.
    public var reduceCalls: Int = 0
    public var reduceFailed: Int = 0
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
