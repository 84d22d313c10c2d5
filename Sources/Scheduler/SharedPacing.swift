/// Where workers of one run keep the pacing state of the deployments they share: their queue's
/// database. Every update runs under a lock the other workers wait for, on one clock for all hosts.
public protocol SharedPacingStore: Sendable {
    /// Reads the deployment's state (nil the first time), lets `body` change it, and stores it, in one
    /// locked step; `now` is the store's clock in seconds (the same for every worker, on any host).
    func update<T: Sendable>(
        deployment: String, _ body: @escaping @Sendable (inout SharedPacingState, _ now: Double) throws -> T
    ) async throws -> T
}

/// A deployment's pacing state as many workers share it: one token and request bucket, one pause
/// after a 429, one circuit breaker, and one calibration of what the service charges, learned from
/// every worker's counter readings.
///
/// Each worker admits a request only after taking its charge here (``take(_:now:)``), and reports
/// how it ended (``settle(_:now:)``). The bucket follows the rules of a single process's (see
/// ``Governor``), so three workers given the same limits together send what one would.
///
/// The service's counter is read against the charges of all workers: every admission gets a
/// position (the running totals of the charges taken so far), and the drop between two readings of
/// the counter is set against the charges taken between their positions. So whatever the service
/// counted that no worker charged (another client, an error of the prediction) is paid by the
/// bucket, and what no worker's request cost is given back, once, whoever reads it.
public struct SharedPacingState: Codable, Sendable, Hashable {
    /// The running totals of the charges taken when a request was admitted.
    struct Position: Codable, Sendable, Hashable {
        /// Predicted charges, prompt parts and max_tokens parts of all admissions so far.
        var charged = 0.0
        var prompt = 0.0
        var fixed = 0.0
    }

    /// How a worker paces the deployment: its rates, from the limits it was given or learned.
    struct Pace: Codable, Sendable, Hashable {
        /// Tokens per second released, the bank kept while nothing waits, and how far credits may lift it.
        var tokensPerSecond: Double
        var bank: Double
        var creditCap: Double
        /// Requests per second released (nil: no RPM).
        var requestsPerSecond: Double?
        /// How far ahead (seconds) a request may be given the next slot of the bucket, to be sent when
        /// it comes: what a round trip to the database and a timer's lateness take, so that no slot
        /// passes while the workers ask.
        var horizon = 0.0
    }

    /// A request asking for admission.
    struct Request: Codable, Sendable, Hashable {
        /// Sluice's prompt estimate and the max_tokens part (× n), and the predicted charge.
        var prompt: Double
        var fixed: Double
        var predicted: Double
        var pace: Pace
    }

    /// What a taken request gets.
    enum Grant: Sendable, Hashable {
        /// Admitted at this position, to be sent after `delay` seconds (its slot, within the horizon);
        /// the calibrated ratio of the service's charge to Sluice's count.
        case granted(Position, ratio: Double, delay: Double)
        /// Not before this many seconds.
        case wait(Double)
        /// The deployment is stopped for the run (a retry-after beyond the cap).
        case stopped(String)
    }

    /// How an admitted request ended.
    struct Outcome: Codable, Sendable, Hashable {
        enum Result: Codable, Sendable, Hashable {
            case answered
            case rateLimited(retryAfter: Double)
            case failed
        }

        var request: Request
        var position: Position
        var result: Result
        /// What the worker worked out itself that the bucket owes (provisioned: the usage against the
        /// charge); nil when the counter reading says it.
        var debit: Double?
        /// The counter reading its response carried, when it did.
        var remaining: Int?
        var limit: Int?
        /// The breaker's rules and the longest retry-after waited for.
        var breakerThreshold: Int
        var breakerCooldown: Double
        var breakerMaxCooldown: Double
        var maxRetryAfter: Double
        var deployment: String
    }

    /// One minute of the service's counter, as the workers' readings saw it.
    struct Counter: Codable, Sendable, Hashable {
        /// The lowest reading, and the position of the request it came with.
        var low: Int
        var at: Position
        var openedAt: Double
        var afterReset: Bool
        var limit: Int?
        var lastReading: Double
    }

    /// One pair of neighbouring lows: the service's prompt charge per token of Sluice's estimate.
    struct Sample: Codable, Sendable, Hashable {
        var ratio: Double
        var weight: Double
    }

    // The bucket.
    private(set) var tokens = 0.0
    private(set) var requests = 1.0
    private var refilledAt: Double?
    /// A request waits for the balance (credits above the bank are kept).
    private var awaited = false
    // Health.
    private(set) var pausedUntil = 0.0
    private(set) var circuitOpenUntil: Double?
    private var cooldown: Double?
    /// A request was let through an open circuit to probe it.
    private var probing = false
    private(set) var consecutiveFailures = 0
    private(set) var stopped: String?
    // Calibration.
    private(set) var position = Position()
    private var counter: Counter?
    private var samples: [Sample] = []
    /// The service's prompt charge per token of Sluice's estimate, learned from all workers' readings.
    public private(set) var ratio = 1.0

    /// An empty state: nothing taken, nothing learned.
    public init() {}

    /// Pairs needed before the ratio moves, and how many recent ones are kept.
    static let minimumSamples = 12
    static let keptSamples = 64

    /// Admits the request if the bucket, the pause and the breaker allow it now, charging it.
    mutating func take(_ request: Request, now: Double) -> Grant {
        refill(now, request.pace)
        if let stopped { return .stopped(stopped) }
        var wait = max(0, pausedUntil - now)
        if let open = circuitOpenUntil, now < open { wait = max(wait, open - now) }
        // Until the bucket has this request's slot: the debt of the admissions before it paid off, and
        // a whole request in the request bucket.
        var slot = 0.0
        if tokens < -0.5 {
            awaited = true
            let rate = request.pace.tokensPerSecond
            slot = rate > 0 ? -tokens / rate : 1
        }
        if let rate = request.pace.requestsPerSecond, requests < 1 - 1e-9 {
            slot = max(slot, rate > 0 ? (1 - requests) / rate : 1)
        }
        let horizon = max(0, request.pace.horizon)
        guard wait <= 0, slot <= horizon else { return .wait(min(max(wait, slot - horizon), 3_600)) }
        if circuitOpenUntil != nil {
            // Half open: this request is the probe; the others wait for what it finds.
            circuitOpenUntil = now + (cooldown ?? 10)
            probing = true
        }
        awaited = false
        tokens -= request.predicted
        if request.pace.requestsPerSecond != nil { requests -= 1 }
        position.charged += request.predicted
        position.prompt += request.prompt
        position.fixed += request.fixed
        return .granted(position, ratio: ratio, delay: slot)
    }

    private mutating func refill(_ now: Double, _ pace: Pace) {
        let elapsed = max(0, now - (refilledAt ?? now))
        refilledAt = now
        let cap = awaited ? pace.creditCap : pace.bank
        if tokens < cap { tokens = min(cap, tokens + pace.tokensPerSecond * elapsed) }
        if let rate = pace.requestsPerSecond { requests = min(1, requests + rate * elapsed) }
    }

    /// Takes an admitted request's end into account: its 429 pauses every worker, failures count
    /// toward the shared breaker, and its counter reading trues the bucket up.
    mutating func settle(_ outcome: Outcome, now: Double) {
        refill(now, outcome.request.pace)
        switch outcome.result {
        case .answered:
            consecutiveFailures = 0
            if circuitOpenUntil != nil { (circuitOpenUntil, cooldown, probing) = (nil, nil, false) }
        case .rateLimited(let retryAfter):
            consecutiveFailures = 0
            let wait = retryAfter.isFinite ? min(max(0, retryAfter), 1e9) : 1
            if wait > outcome.maxRetryAfter {
                stopped =
                    "\(outcome.deployment): the service asked to retry after \(Int(wait)) s (quota used up, or a daily cap?), longer than the \(Int(outcome.maxRetryAfter)) s cap; no more requests go to it in this run"
            }
            pausedUntil = max(pausedUntil, now + min(wait, outcome.maxRetryAfter))
        case .failed:
            consecutiveFailures += 1
            if circuitOpenUntil != nil {
                if probing {
                    // The probe failed: open again, twice as long.
                    let next = min(outcome.breakerMaxCooldown, (cooldown ?? outcome.breakerCooldown) * 2)
                    (cooldown, circuitOpenUntil, probing) = (next, now + next, false)
                }
            } else if consecutiveFailures >= outcome.breakerThreshold {
                (cooldown, circuitOpenUntil) = (outcome.breakerCooldown, now + outcome.breakerCooldown)
            }
        }
        let debit = outcome.debit ?? observe(outcome, now: now)
        tokens = min(outcome.request.pace.creditCap, tokens - debit)
    }

    /// The tokens the bucket owes after this reading of the counter (negative: a credit).
    private mutating func observe(_ outcome: Outcome, now: Double) -> Double {
        let refused: Bool
        if case .rateLimited = outcome.result { refused = true } else { refused = false }
        let readingsSeen = counter.map { now - $0.lastReading < 60 } ?? false
        guard let remaining = outcome.remaining, remaining > 0,
            outcome.limit.map({ remaining <= $0 }) ?? true
        else {
            // Unread: a refused request was not charged; give it back unless a later reading will.
            return refused && !readingsSeen ? -outcome.request.predicted : 0
        }
        let limit = outcome.limit ?? counter?.limit
        guard var current = counter else {
            counter = Counter(
                low: remaining, at: outcome.position, openedAt: now, afterReset: false, limit: limit, lastReading: now)
            return refused ? -outcome.request.predicted : 0
        }
        current.lastReading = now
        current.limit = limit ?? current.limit
        defer { counter = current }
        // Admitted before the lowest reading's request: its value was counted with that one.
        guard outcome.position.charged > current.at.charged else { return 0 }
        if remaining <= current.low {
            let drop = Double(current.low - remaining)
            let charged = outcome.position.charged - current.at.charged
            let prompt = outcome.position.prompt - current.at.prompt
            let fixed = outcome.position.fixed - current.at.fixed
            if prompt > 0 { learn(Sample(ratio: (drop - fixed) / prompt, weight: prompt)) }
            current.low = remaining
            current.at = outcome.position
            return drop - charged
        }
        // Above the low: a request that arrived before the low's (its charge was in that drop and is
        // set against the next), unless the jump is a new minute's reset (or a minute has passed since
        // this one was first seen: the counter has been reset since, however little it shows).
        let jump = Double(remaining - current.low)
        let tolerance = 0.02 * Double(limit ?? 0) + 2 * outcome.request.predicted
        let minutePassed = now - current.openedAt >= 60
        if !minutePassed && (jump <= tolerance || (current.afterReset && now - current.openedAt < 30)) { return 0 }
        current = Counter(
            low: remaining, at: outcome.position, openedAt: now, afterReset: true, limit: limit, lastReading: now)
        guard let limit else { return 0 }
        return Double(limit - remaining) - (refused ? 0 : outcome.request.predicted)
    }

    /// Keeps a pair and works the ratio out again: the weighted mean of the recent pairs, without
    /// those far above the median (a drop another client shared).
    private mutating func learn(_ sample: Sample) {
        guard sample.ratio.isFinite, sample.weight > 0 else { return }
        samples.append(Sample(ratio: min(10, max(-1, sample.ratio)), weight: sample.weight))
        if samples.count > Self.keptSamples { samples.removeFirst(samples.count - Self.keptSamples) }
        guard samples.count >= Self.minimumSamples else { return }
        let median = samples.map(\.ratio).sorted()[samples.count / 2]
        let cut = max(median, 0) * 1.5 + 0.05
        let kept = samples.filter { $0.ratio <= cut && $0.ratio > -1 }
        let weight = kept.reduce(0) { $0 + $1.weight }
        guard weight > 0 else { return }
        let value = kept.reduce(0) { $0 + $1.ratio * $1.weight } / weight
        ratio = min(ChargeCalibration.bounds.upperBound, max(ChargeCalibration.bounds.lowerBound, value))
    }
}
