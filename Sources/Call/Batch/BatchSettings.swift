/// A batch deployment's settings (`kind: batch`): its quota of enqueued tokens and how it is polled.
public struct BatchSettings: Sendable, Hashable {
    /// The deployment's enqueued-token quota: the input tokens of its batches not finished yet stay
    /// within it.
    public var enqueuedTokens: Int
    /// Seconds between looks at a batch in progress (Microsoft recommends about a minute).
    public var pollSeconds: Double
    /// Keep the uploaded input and downloaded output files on the service (`--keep-batch-files`).
    public var keepFiles = false

    /// - Parameters:
    ///   - enqueuedTokens: The quota (at least 1).
    ///   - pollSeconds: Seconds between polls (default 60).
    public init(enqueuedTokens: Int, pollSeconds: Double = 60) {
        self.enqueuedTokens = max(1, enqueuedTokens)
        self.pollSeconds = max(0.01, pollSeconds)
    }

    /// Seconds between the quicker steps (an uploaded file is processed, a batch starts): at most 5.
    var stepSeconds: Double { min(pollSeconds, 5) }

    /// How long a creation refused for the quota (`token_limit_exceeded`) waits before the next:
    /// doubling from a poll interval, with jitter, at most 30 minutes.
    func refusalBackoff(refusals: Int, jitter: Double) -> Double {
        let base = min(1_800, pollSeconds * Double(1 << min(max(0, refusals - 1), 16)))
        return base * (0.75 + 0.5 * min(1, max(0, jitter)))
    }
}
