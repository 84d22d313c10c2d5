/// How failed calls are retried: exponential backoff with full jitter, the service's retry-after
/// honoured, a bounded number of attempts.
public struct RetryPolicy: Sendable, Hashable {
    /// Attempts that count (429s do not) before a failure is terminal.
    public var maxAttempts: Int
    /// First backoff ceiling in seconds; doubles each attempt.
    public var baseSeconds: Double
    /// Largest backoff in seconds.
    public var capSeconds: Double
    /// Largest wait a service's retry-after can ask for before a retry (`--max-retry-after`).
    public var maxRetryAfterSeconds: Double

    /// Creates it from its fields.
    public init(
        maxAttempts: Int = 6, baseSeconds: Double = 0.5, capSeconds: Double = 30, maxRetryAfterSeconds: Double = 120
    ) {
        self.maxAttempts = maxAttempts
        self.baseSeconds = baseSeconds
        self.capSeconds = capSeconds
        self.maxRetryAfterSeconds = maxRetryAfterSeconds
    }

    /// Seconds to wait before the next attempt, after `attempts` counted failures.
    public func delay(
        afterAttempts attempts: Int, retryAfter: Double?, using generator: inout some RandomNumberGenerator
    ) -> Double {
        if let retryAfter, retryAfter.isFinite { return min(max(0, retryAfter), max(0, maxRetryAfterSeconds)) }
        let ceiling = min(capSeconds, baseSeconds * Double(1 << min(max(attempts - 1, 0), 20)))
        return Double.random(in: 0...ceiling, using: &generator)
    }
}
