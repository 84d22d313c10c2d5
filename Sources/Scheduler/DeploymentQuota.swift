/// What the scheduler knows of one deployment: its kind and limits, and how traffic is routed to it.
public struct DeploymentQuota: Sendable, Hashable {
    /// Standard (pay-as-you-go) or provisioned.
    public enum Kind: Sendable, Hashable {
        /// Paced under TPM and RPM; nil limits are learned from headers and 429s.
        case standard(tokensPerMinute: Int?, requestsPerMinute: Int?)
        /// Kept full by closed-loop concurrency; `tokensPerMinute` (PTUs × the model's rate) is informational.
        case provisioned(ptu: Int?, tokensPerMinute: Int?)
    }

    /// The deployment's name.
    public var name: String
    /// Standard or provisioned, with its limits.
    public var kind: Kind
    /// Requests in flight at most.
    public var maxConcurrency: Int
    /// Lower numbers are served first; a higher number only gets the overflow.
    public var priority: Int
    /// Share of traffic among deployments of the same priority.
    public var weight: Double
    /// Provisioned: input tokens one output token counts for (the model's, from the catalog).
    public var outputTokenWeight: Int
    /// Standard: the model's RPM per 1,000 TPM, which gives an RPM when only the TPM is known.
    public var requestsPerThousandTokens: Double?

    /// Creates it from its fields.
    public init(
        name: String, kind: Kind, maxConcurrency: Int = 64, priority: Int = 1, weight: Double = 1,
        outputTokenWeight: Int = 4, requestsPerThousandTokens: Double? = nil
    ) {
        self.name = name
        self.kind = kind
        self.maxConcurrency = max(1, maxConcurrency)
        self.priority = priority
        self.weight = max(weight, 0.0001)
        self.outputTokenWeight = max(1, outputTokenWeight)
        self.requestsPerThousandTokens = requestsPerThousandTokens.flatMap { $0 > 0 && $0.isFinite ? $0 : nil }
    }

    /// Whether it is a provisioned (PTU) deployment.
    public var isProvisioned: Bool { kind.isProvisioned }

    /// The RPM a TPM implies for this model, when its ratio is known.
    func derivedRequestsPerMinute(tokensPerMinute: Int) -> Int? {
        requestsPerThousandTokens.map { max(1, Int((Double(tokensPerMinute) / 1_000 * $0).rounded(.down))) }
    }
}

/// What a call's response told the scheduler.
public struct CallReport: Sendable, Hashable {
    /// How the call ended, for pacing.
    public enum Result: Sendable, Hashable {
        /// A complete answer (any 2xx, or a 4xx that says nothing about the deployment's health).
        case answered
        /// HTTP 429, with the service's retry-after in seconds.
        case rateLimited(retryAfter: Double?)
        /// 5xx, 408, timeouts, connection errors, cut-off bodies: counts toward the circuit breaker.
        case failed
    }

    /// How the call ended.
    public var result: Result
    /// Wall time of the call.
    public var latencySeconds: Double
    /// Prompt, cached prompt and completion tokens billed (successes).
    public var promptTokens: Int
    /// Cached prompt tokens billed.
    public var cachedTokens: Int
    /// Completion tokens billed.
    public var completionTokens: Int
    /// `x-ratelimit-remaining-tokens` / `-requests` and `x-ratelimit-limit-tokens` / `-requests`, when sent.
    public var remainingTokens: Int?
    /// `x-ratelimit-remaining-requests`.
    public var remainingRequests: Int?
    /// `x-ratelimit-limit-tokens`.
    public var limitTokens: Int?
    /// `x-ratelimit-limit-requests`.
    public var limitRequests: Int?
    /// `azure-openai-deployment-utilization` as a fraction (0.875 for "87.5%").
    public var utilization: Double?
    /// `x-ms-region`: the backend that answered (backends may keep counters of their own).
    public var region: String?

    /// Creates it from its fields.
    public init(
        result: Result, latencySeconds: Double, promptTokens: Int = 0, cachedTokens: Int = 0,
        completionTokens: Int = 0, remainingTokens: Int? = nil, remainingRequests: Int? = nil,
        limitTokens: Int? = nil, limitRequests: Int? = nil, utilization: Double? = nil, region: String? = nil
    ) {
        self.result = result
        self.latencySeconds = latencySeconds
        self.promptTokens = promptTokens
        self.cachedTokens = cachedTokens
        self.completionTokens = completionTokens
        self.remainingTokens = remainingTokens
        self.remainingRequests = remainingRequests
        self.limitTokens = limitTokens
        self.limitRequests = limitRequests
        self.utilization = utilization
        self.region = region
    }
}

/// One deployment as the scheduler sees it now (for `sluice status` and the run summary).
public struct DeploymentStatus: Sendable, Hashable, Codable {
    /// The deployment's name.
    public var name: String
    /// standard or provisioned.
    public var kind: String
    /// Requests in flight now.
    public var inFlight: Int
    /// The current cap on requests in flight (closed-loop for provisioned and unknown limits).
    public var concurrency: Int
    /// Tokens charged in the last 60 s of scheduler time, and the limit (nil when unknown).
    public var tokensLastMinute: Int
    /// The tokens-per-minute limit, when known.
    public var tokensPerMinuteLimit: Int?
    /// Requests admitted in the last 60 s.
    public var requestsLastMinute: Int
    /// Calls answered 429.
    public var rateLimited: Int
    /// Calls failed (5xx, timeouts, connection errors).
    public var failures: Int
    /// Calls made.
    public var calls: Int
    /// Mean latency of the calls.
    public var meanLatencySeconds: Double
    /// Why it gets no traffic now, if it gets none: paused, circuit open, stopped.
    public var state: String
    /// Standard: the service's charge per token of Sluice's prompt estimate, as learned from its
    /// counter (1 until learned). Provisioned: its prompt count per token of the estimate.
    public var chargeRatio: Double?
    /// Standard: tokens per minute other clients were seen to use on the same deployment.
    public var othersTokensPerMinute: Int?
    /// Provisioned: the last `azure-openai-deployment-utilization` hint, as a fraction.
    public var utilization: Double?
}

/// Why the scheduler cannot place a request.
public struct SchedulerError: Error, Sendable, CustomStringConvertible {
    /// Why, naming the deployments.
    public var message: String
    public var description: String { message }
}
