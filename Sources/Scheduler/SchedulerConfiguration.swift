/// How the scheduler paces and protects deployments. Defaults suit Azure OpenAI.
public struct SchedulerConfiguration: Sendable, Hashable {
    /// A retry-after longer than this (seconds) is not waited for: the deployment is stopped for the run.
    public var maxRetryAfterSeconds: Double
    /// Consecutive failed calls (5xx, timeouts, connection errors) that open a deployment's circuit.
    public var breakerThreshold: Int
    /// First time (seconds) an open circuit stays open; doubles on each failed probe, up to `breakerMaxCooldown`.
    public var breakerCooldown: Double
    public var breakerMaxCooldown: Double
    /// Starting cap on requests in flight for closed-loop deployments (provisioned, or limits unknown).
    public var initialWindow: Int

    public init(
        maxRetryAfterSeconds: Double = 120, breakerThreshold: Int = 5, breakerCooldown: Double = 10,
        breakerMaxCooldown: Double = 300, initialWindow: Int = 4
    ) {
        self.maxRetryAfterSeconds = maxRetryAfterSeconds
        self.breakerThreshold = max(1, breakerThreshold)
        self.breakerCooldown = breakerCooldown
        self.breakerMaxCooldown = breakerMaxCooldown
        self.initialWindow = max(1, initialWindow)
    }
}
