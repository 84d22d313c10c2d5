import Foundation

/// One deployment's admission state: pure, with time passed in, so every rule is testable without a clock.
///
/// - Standard deployments with a known TPM: a token bucket releasing the minute's budget evenly (a
///   quarter second's worth, or one request, may be banked: never a minute's), charging each request
///   Azure's estimate at admission, so that any 60-second window stays under the TPM; a request
///   bucket keeps RPM over 1-second windows. Other clients' use is learned from
///   `x-ratelimit-remaining-tokens` and subtracted; 429s lower the rate, successes restore it.
/// - Provisioned deployments, and standard ones whose limits are unknown: closed-loop concurrency
///   (slow start, then additive increase; multiplicative decrease on a 429).
/// - Every deployment: a 429 pauses it for the retry-after; one longer than the cap stops it for the
///   run; persistent failures open a circuit breaker, probed again after a cooldown.
struct Governor {
    let quota: DeploymentQuota
    let configuration: SchedulerConfiguration

    // Pacing (standard with a known or learned TPM).
    private(set) var tokensPerMinute: Int?
    private(set) var requestsPerMinute: Int?
    private var tokenBalance: Double = 0
    private var requestBalance: Double = 1
    private var lastRefill: Double
    /// Fraction of the TPM this process allows itself after 429s (1 = all of it).
    private(set) var rateFactor: Double = 1
    /// Tokens per second other clients spend on the deployment (learned from remaining-tokens headers),
    /// ignoring the noise of the measurement (under 1% of the TPM).
    var othersPerSecond: Double {
        let ceiling = Double(tokensPerMinute ?? 0) / 60
        let estimate = min(ceiling, max(0, othersEstimate))
        return estimate < ceiling * 0.01 ? 0 : estimate
    }
    /// The running average of the samples, unclamped so that noise around zero averages out.
    private var othersEstimate: Double = 0
    private var lastRemaining: (value: Int, time: Double)?
    private(set) var largestCharge = 0

    // Closed loop (provisioned, or no limits known).
    private(set) var window: Double
    private var threshold: Double
    private var lastDecrease = -Double.infinity

    // Health.
    private(set) var inFlight = 0
    private(set) var pausedUntil = -Double.infinity
    private var consecutiveFailures = 0
    private var openUntil: Double?
    private var cooldown: Double
    private(set) var stopped: String?

    // Statistics.
    private var admissions: [(time: Double, charge: Int)] = []
    private var admissionsStart = 0
    private(set) var calls = 0
    private(set) var rateLimited = 0
    private(set) var failures = 0
    private var latencyTotal = 0.0
    private var reservedOutput = 0
    private var completionTokens = 0
    private var promptTokens = 0
    private var answered = 0

    init(quota: DeploymentQuota, configuration: SchedulerConfiguration, now: Double) {
        self.quota = quota
        self.configuration = configuration
        lastRefill = now
        cooldown = configuration.breakerCooldown
        switch quota.kind {
        case .standard(let tpm, let rpm):
            tokensPerMinute = tpm
            requestsPerMinute = rpm
        case .provisioned:
            break
        }
        window = Double(min(quota.maxConcurrency, configuration.initialWindow))
        threshold = Double(quota.maxConcurrency)
        tokenBalance = capacity
    }

    /// Whether admission is paced by a token budget (else by the closed loop).
    var pacedByTokens: Bool { !quota.isProvisioned && tokensPerMinute != nil }

    /// Still in slow start: no 429 yet, so its concurrency window says nothing about its capacity.
    /// A caller waits for such a deployment rather than spilling over to a lower priority.
    var rampingUp: Bool {
        !pacedByTokens && threshold >= Double(quota.maxConcurrency) && window < Double(quota.maxConcurrency)
            && stopped == nil && openUntil == nil
    }

    /// The cap on requests in flight now.
    var concurrency: Int { pacedByTokens ? quota.maxConcurrency : max(1, Int(window)) }

    /// Tokens that may be banked: a quarter second's budget, and at least the largest request.
    private var capacity: Double {
        guard let tpm = tokensPerMinute else { return 0 }
        return max(Double(tpm) / 240, Double(largestCharge))
    }

    /// Tokens per second released: the TPM less the bank and one request (so no 60-second window can
    /// exceed it), less what other clients use, times the rate factor.
    var tokensPerSecond: Double {
        guard let tpm = tokensPerMinute.map(Double.init) else { return 0 }
        let budget = tpm - capacity - Double(largestCharge) - othersPerSecond * 60
        return max(tpm * 0.02, budget) / 60 * rateFactor
    }

    /// Requests per second released; the bank holds one request, so a 1-second window never gets more
    /// than its share.
    private var requestsPerSecond: Double? {
        guard let rpm = requestsPerMinute.map(Double.init) else { return nil }
        let perSecond = rpm / 60
        return max(perSecond - 1, perSecond / 2)
    }

    private mutating func refill(_ now: Double) {
        let elapsed = max(0, now - lastRefill)
        lastRefill = now
        if pacedByTokens { tokenBalance = min(capacity, tokenBalance + tokensPerSecond * elapsed) }
        if let rate = requestsPerSecond { requestBalance = min(1, requestBalance + rate * elapsed) }
    }

    /// Seconds until a request with this charge could be admitted: 0 now, `.infinity` when it waits for
    /// a call to finish, nil when the deployment is stopped for the run.
    mutating func wait(charge: Int, now: Double) -> Double? {
        if stopped != nil { return nil }
        refill(now)
        var wait = 0.0
        if now < pausedUntil { wait = pausedUntil - now }
        if let openUntil {
            if now < openUntil {
                wait = max(wait, openUntil - now)
            } else if inFlight > 0 {
                return .infinity  // half open: one probe at a time
            }
        }
        if inFlight >= concurrency { return .infinity }
        if pacedByTokens {
            // A charge larger than the bank is admitted once the bank is full (going into debt).
            let needed = min(Double(charge), capacity)
            if tokenBalance < needed - 0.5 {
                let rate = tokensPerSecond
                wait = max(wait, rate > 0 ? (needed - tokenBalance) / rate : 1)
            }
        }
        if let rate = requestsPerSecond, requestBalance < 1 - 1e-9 {
            wait = max(wait, rate > 0 ? (1 - requestBalance) / rate : 1)
        }
        return wait
    }

    /// Charges an admitted request (call after `wait` returned 0 at the same `now`).
    mutating func admit(charge: Int, reservedOutput: Int, now: Double) {
        if charge > largestCharge {
            let previous = capacity
            largestCharge = charge
            tokenBalance += capacity - previous
        }
        if pacedByTokens { tokenBalance -= Double(charge) }
        if requestsPerSecond != nil { requestBalance -= 1 }
        inFlight += 1
        self.reservedOutput += reservedOutput
        admissions.append((now, charge))
        trimHistory(now)
    }

    /// Frees the slot of an admission whose request was never sent (its tokens stay spent).
    mutating func release() { inFlight = max(0, inFlight - 1) }

    /// Takes a finished call into account; returns a message when the deployment stops.
    @discardableResult
    mutating func finish(admittedAt: Double, charge: Int, report: CallReport, now: Double) -> String? {
        inFlight = max(0, inFlight - 1)
        calls += 1
        latencyTotal += report.latencySeconds
        if let limit = report.limitTokens, limit > 0, !quota.isProvisioned, tokensPerMinute == nil {
            tokensPerMinute = limit  // learned: from now on paced by tokens
            tokenBalance = capacity
        }
        if let remaining = report.remainingTokens { observe(remaining: remaining, at: admittedAt) }
        switch report.result {
        case .answered:
            answered += 1
            promptTokens += report.promptTokens
            completionTokens += report.completionTokens
            consecutiveFailures = 0
            if openUntil != nil {
                openUntil = nil
                cooldown = configuration.breakerCooldown
            }
            rateFactor = min(1, rateFactor + 0.005)
            if admittedAt > lastDecrease, (report.utilization ?? 0) < 1 {
                window = min(Double(quota.maxConcurrency), window + (window < threshold ? 1 : 1 / window))
            }
        case .rateLimited(let retryAfter):
            rateLimited += 1
            consecutiveFailures = 0
            let wait = retryAfter ?? 1
            if wait > configuration.maxRetryAfterSeconds {
                stopped =
                    "\(quota.name): the service asked to retry after \(Int(wait)) s (quota used up, or a daily cap?), longer than the \(Int(configuration.maxRetryAfterSeconds)) s cap; no more requests go to it in this run"
                return stopped
            }
            pausedUntil = max(pausedUntil, now + wait)
            if admittedAt >= lastDecrease {
                // One decrease per round: requests sent before the last decrease say nothing new.
                threshold = max(1, window * 0.7)
                window = threshold
                lastDecrease = now
                if pacedByTokens { rateFactor = max(0.2, rateFactor * 0.9) }
            }
        case .failed:
            failures += 1
            consecutiveFailures += 1
            if let open = openUntil {
                if now >= open {
                    // The probe failed: stay open, twice as long.
                    cooldown = min(configuration.breakerMaxCooldown, cooldown * 2)
                    openUntil = now + cooldown
                }
            } else if consecutiveFailures >= configuration.breakerThreshold {
                openUntil = now + cooldown
            }
        }
        return nil
    }

    /// Learns other clients' use from the server's remaining-tokens count after our request's admission.
    private mutating func observe(remaining: Int, at time: Double) {
        defer { if time > (lastRemaining?.time ?? -.infinity) { lastRemaining = (remaining, time) } }
        guard let last = lastRemaining, time > last.time, time - last.time < 10, tokensPerMinute != nil else { return }
        let consumed = last.value - remaining
        guard consumed >= 0 else { return }  // the server's window reset in between
        let ours = admissions[admissionsStart...].lazy.filter { $0.time > last.time && $0.time <= time }
            .reduce(0) { $0 + $1.charge }
        let others = Double(consumed - ours) / (time - last.time)
        let ceiling = Double(tokensPerMinute ?? 0) / 60
        othersEstimate = min(ceiling, max(-ceiling, othersEstimate + 0.2 * (others - othersEstimate)))
    }

    private mutating func trimHistory(_ now: Double) {
        while admissionsStart < admissions.count && admissions[admissionsStart].time < now - 60 {
            admissionsStart += 1
        }
        if admissionsStart > 4_096 {
            admissions.removeFirst(admissionsStart)
            admissionsStart = 0
        }
    }

    /// A warning when replies use far less than the max_tokens reserved for them, once enough calls are in.
    var overReservation: String? {
        guard answered >= 50, reservedOutput > 0 else { return nil }
        let meanReserved = Double(reservedOutput) / Double(calls)
        let meanUsed = Double(completionTokens) / Double(answered)
        guard meanUsed < meanReserved * 0.5 else { return nil }
        let meanPrompt = Double(promptTokens) / Double(answered)
        let gain = (meanPrompt + meanReserved) / (meanPrompt + max(meanUsed * 1.2, 1)) - 1
        return quota.name
            + String(
                format:
                    ": replies average %.0f tokens but max_tokens reserves %.0f; Azure charges the reservation at admission, so a max_tokens near %.0f would let about %.0f%% more requests through",
                meanUsed, meanReserved, (meanUsed * 1.2).rounded(.up), gain * 100)
    }

    func status(now: Double) -> DeploymentStatus {
        let recent = admissions[admissionsStart...].filter { $0.time >= now - 60 }
        var state = "ready"
        if let stopped {
            state = "stopped: " + stopped
        } else if let openUntil, now < openUntil {
            state = String(format: "circuit open for %.0f s", openUntil - now)
        } else if now < pausedUntil {
            state = String(format: "paused %.1f s (429)", pausedUntil - now)
        }
        let limit: Int?
        switch quota.kind {
        case .standard: limit = tokensPerMinute
        case .provisioned(_, let tpm): limit = tpm
        }
        return DeploymentStatus(
            name: quota.name, kind: quota.isProvisioned ? "provisioned" : "standard", inFlight: inFlight,
            concurrency: concurrency, tokensLastMinute: recent.reduce(0) { $0 + $1.charge },
            tokensPerMinuteLimit: limit, requestsLastMinute: recent.count, rateLimited: rateLimited,
            failures: failures, calls: calls, meanLatencySeconds: calls > 0 ? latencyTotal / Double(calls) : 0,
            state: state)
    }
}
