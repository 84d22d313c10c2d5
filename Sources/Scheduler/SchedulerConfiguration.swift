/// How the scheduler paces and protects deployments. Defaults suit Azure OpenAI.
public struct SchedulerConfiguration: Sendable, Hashable {
    /// A retry-after longer than this (seconds) is not waited for: the deployment is stopped for the run.
    public var maxRetryAfterSeconds: Double
    /// Consecutive failed calls (5xx, timeouts, connection errors) that open a deployment's circuit.
    public var breakerThreshold: Int
    /// First time (seconds) an open circuit stays open; doubles on each failed probe, up to `breakerMaxCooldown`.
    public var breakerCooldown: Double
    /// The longest an open circuit stays open (seconds).
    public var breakerMaxCooldown: Double
    /// Starting cap on requests in flight for closed-loop deployments (provisioned, or limits unknown).
    public var initialWindow: Int
    /// Learn what the service really charges (remaining-tokens readings, usage) and pace on that. Off,
    /// requests are charged Sluice's own count at face value and provisioned deployments are run by
    /// the closed loop alone: the naive pacer the quota benchmark compares with.
    public var calibrates: Bool
    /// Provisioned deployments of known capacity start at this share of it.
    public var provisionedStartFactor: Double
    /// The `azure-openai-deployment-utilization` value provisioned pacing steers toward, when sent.
    public var provisionedTargetUtilization: Double

    /// The defaults suit Azure OpenAI.
    public init(
        maxRetryAfterSeconds: Double = 120, breakerThreshold: Int = 5, breakerCooldown: Double = 10,
        breakerMaxCooldown: Double = 300, initialWindow: Int = 4, calibrates: Bool = true,
        provisionedStartFactor: Double = 0.985, provisionedTargetUtilization: Double = 0.95
    ) {
        self.calibrates = calibrates
        self.provisionedStartFactor = min(1.1, max(0.3, provisionedStartFactor))
        self.provisionedTargetUtilization = min(1, max(0.1, provisionedTargetUtilization))
        self.maxRetryAfterSeconds = maxRetryAfterSeconds
        self.breakerThreshold = max(1, breakerThreshold)
        self.breakerCooldown = breakerCooldown
        self.breakerMaxCooldown = breakerMaxCooldown
        self.initialWindow = max(1, initialWindow)
    }
}
