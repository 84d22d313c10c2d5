/// How the simulator behaves: its deployments, latency, speed and injected faults.
public struct SimulatorConfiguration: Sendable, Hashable {
    /// One simulated deployment.
    public struct Deployment: Sendable, Hashable {
        /// Standard (pay-as-you-go) or provisioned.
        public enum Kind: Sendable, Hashable {
            /// TPM charged with the estimate at arrival per minute; RPM over windows of `rpmWindowSeconds`.
            case standard(tokensPerMinute: Int, requestsPerMinute: Int, rpmWindowSeconds: Double)
            /// A leaky bucket draining `tokensPerMinute`; a request is admitted while utilization ≤ 100%.
            case provisioned(tokensPerMinute: Int, outputTokenWeight: Int, bucketSeconds: Double)
            /// No limits.
            case unlimited
            /// Its quota is used up for the day: every request gets a 429 asking to retry after 86,400 s.
            case exhausted
            /// A Global Batch deployment: reached through the Files and Batches API only, with a quota
            /// of enqueued tokens (the input tokens of its batches not yet finished).
            case batch(enqueuedTokens: Int)
        }

        /// The deployment name in URLs.
        public var name: String
        /// Its quota model.
        public var kind: Kind
        /// The model name replies report.
        public var model: String
        /// Prompt + max_tokens above this is a 400 context_length_exceeded.
        public var contextWindow: Int

        /// Creates it from its fields.
        public init(name: String, kind: Kind, model: String = "gpt-4o-2024-08-06", contextWindow: Int = 128_000) {
            self.name = name
            self.kind = kind
            self.model = model
            self.contextWindow = contextWindow
        }
    }

    /// Rates (0 ... 1) of injected faults, drawn per request.
    public struct Faults: Sendable, Hashable {
        /// Share of requests answered 500.
        public var serverError: Double = 0
        /// Share of requests answered 503.
        public var serviceUnavailable: Double = 0
        /// Headers and half the body, then the connection is closed.
        public var connectionReset: Double = 0
        /// No answer for `stallSeconds` (real time), then the connection is closed.
        public var stall: Double = 0
        /// How long a stalled request hangs before it is answered.
        public var stallSeconds: Double = 30
        /// A 200 whose JSON body is cut in half.
        public var truncatedJSON: Double = 0
        /// A message containing this text is refused with 400 content_filter.
        public var contentFilterTrigger: String = "SLUICE-CONTENT-FILTER"
        /// A request whose messages contain this text gets a reply that breaks its response format.
        public var invalidOutputTrigger: String = "SLUICE-INVALID-OUTPUT"
        /// Like `invalidOutputTrigger`, but only the first request of each `x-ms-client-request-id`.
        public var invalidOnceTrigger: String = "SLUICE-INVALID-ONCE"

        /// No faults.
        public init() {}

        /// No random faults.
        public static let none = Faults()
    }

    /// How a standard deployment's TPM counter is charged for a request's prompt at arrival.
    public enum ChargeRule: String, Sendable, Hashable, CaseIterable {
        /// Azure's documented kind of estimate: characters / 4 of the messages (roles, names and
        /// contents), not a token count. It differs from the tokens by language and content.
        case chars
        /// The prompt's tokens, as the usage reports them.
        case tokens
    }

    /// How the Files and Batches API behaves (simulated seconds).
    public struct Batches: Sendable, Hashable {
        /// An uploaded file is `pending` this long before it is `processed`.
        public var pendingSeconds = 2.0
        /// A batch is `validating` this long.
        public var validationSeconds = 2.0
        /// Lines a batch in progress completes per second.
        public var linesPerSecond = 50.0
        /// A batch is `finalizing` (or `cancelling`) this long.
        public var finalizingSeconds = 1.0
        /// A batch not done this long after its creation expires, with the lines done so far.
        public var expiresAfterSeconds = 86_400.0
        /// The most lines, and bytes, an input file may have.
        public var maxLines = 100_000
        public var maxFileBytes = 200_000_000
        /// Share (0 ... 1) of processed lines answered 500 in the error file.
        public var failedLineShare = 0.0
        /// Real seconds between an upload, a batch creation or a file's download taking effect and
        /// its answer: the window in which a client that crashes has not recorded what it made (or is
        /// still reading what a batch answered).
        public var requestSeconds = 0.0

        /// Azure's limits; short waits.
        public init() {}
    }

    /// The deployments served.
    public var deployments: [Deployment]
    /// The Files and Batches API's timing, limits and faults.
    public var batches = Batches()
    /// Standard deployments: the prompt part of the arrival charge (max_tokens is added as sent, × n).
    public var charge: ChargeRule = .chars
    /// Multiplies the prompt part of the arrival charge (0.8, 1.25, ...) to rehearse a service that
    /// estimates lower or higher.
    public var chargeSkew: Double = 1
    /// Deployments not listed are created with this kind when first called; nil answers 404.
    public var defaultKind: Deployment.Kind?
    /// The key clients must send as `api-key` or `Authorization: Bearer`; nil accepts anything.
    public var apiKey: String?
    /// Simulated seconds before the first token.
    public var baseLatency: Double
    /// Simulated seconds per output token.
    public var perTokenLatency: Double
    /// Simulated time runs this many times faster than real time (limits and latency scale with it).
    public var speedUp: Double
    /// Output tokens a reply aims for (capped by max_tokens).
    public var replyTokens: Int
    /// Faults injected.
    public var faults: Faults
    /// Seed of the fault draws.
    public var seed: UInt64
    /// Keep every arrival's time and answer in the statistics (for tests; grows with the run).
    public var recordArrivals = false
    /// A request body larger than this is answered 413 and its connection closed.
    public var maxBodyBytes = 16 << 20
    /// Real seconds a connection may stay silent (no request coming in, none being answered) before
    /// it is closed.
    public var idleTimeoutSeconds: Double = 120

    /// Creates it from its fields.
    public init(
        deployments: [Deployment] = [], defaultKind: Deployment.Kind? = .unlimited, apiKey: String? = "sim-key",
        baseLatency: Double = 0.2, perTokenLatency: Double = 0.01, speedUp: Double = 1, replyTokens: Int = 60,
        faults: Faults = .none, seed: UInt64 = 1
    ) {
        self.deployments = deployments
        self.defaultKind = defaultKind
        self.apiKey = apiKey
        self.baseLatency = baseLatency
        self.perTokenLatency = perTokenLatency
        self.speedUp = speedUp
        self.replyTokens = replyTokens
        self.faults = faults
        self.seed = seed
    }
}
