import Foundation
import Synchronization

/// What the workers of one `sluice run` process have done, published as they go: the run's progress
/// and summary read it instead of asking the database.
public final class RunCounters: Sendable {
    /// The counters at one moment.
    public struct Values: Sendable {
        /// Calls made.
        public var calls = 0
        /// Calls that succeeded.
        public var succeeded = 0
        /// Calls answered 429.
        public var rateLimited = 0
        /// Calls answered from stored results.
        public var reused = 0
        /// Prompt tokens billed.
        public var promptTokens = 0
        /// Completion tokens billed.
        public var completionTokens = 0
        /// Latency of every call together.
        public var latencySeconds = 0.0
        /// Calls by outcome ("ok" or the error class).
        public var outcomes: [String: Int] = [:]
        /// JSONL lines written.
        public var linesWritten = 0
        /// List-price cost of this process's calls, in all and per deployment.
        public var cost = 0.0
        /// Cost by deployment.
        public var costByDeployment: [String: Double] = [:]
        /// Replies that did not match the response format and were asked again.
        public var invalidOutputs = 0
        /// The queue's recorded spend when the run started.
        public var spentBefore = 0.0
    }

    /// When the counters were made (the run's start).
    public let started = Date()
    private let values = Mutex(Values())

    /// Nothing counted.
    public init() {}

    /// Changes the counters under their lock.
    public func update(_ body: (inout Values) -> Void) { values.withLock { body(&$0) } }

    /// The counters now.
    public var snapshot: Values { values.withLock { $0 } }
}
