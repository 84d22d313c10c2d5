import Foundation

/// One deployment's admission state: pure, with time passed in, so every rule is testable without a clock.
///
/// - Standard deployments with a known TPM (given, from `x-ratelimit-limit-tokens`, or inferred from
///   remaining-tokens readings): a token bucket releasing the minute's budget evenly (a tenth of a
///   second's worth and one request may be banked: never a minute's). Each request is charged the
///   calibrated prediction of Azure's arrival estimate (``ChargeCalibration``), and every
///   remaining-tokens reading trues the bucket up to what the service's counter lost, so other
///   clients' use and any error of the prediction are paid as soon as they are seen. A request
///   bucket keeps RPM over 1-second windows.
/// - Provisioned deployments with a known capacity: the same bucket, draining at the capacity, charged
///   what a request is expected to cost the PTUs (prompt − cached + output × its weight, from the
///   usage seen so far) and trued up to the usage when it ends; the
///   `azure-openai-deployment-utilization` hint and 429s steer the rate around full.
/// - Provisioned deployments of unknown capacity, and standard ones whose limits are unknown:
///   closed-loop concurrency (slow start, then additive increase; multiplicative decrease on a 429).
/// - Every deployment: a 429 pauses it for the retry-after; one longer than the cap stops it for the
///   run; persistent failures open a circuit breaker, probed again after a cooldown.
struct Governor {
    let quota: DeploymentQuota
    let configuration: SchedulerConfiguration

    // Limits: a standard deployment's TPM and RPM; a provisioned one's capacity per minute.
    private(set) var tokensPerMinute: Int?
    private(set) var requestsPerMinute: Int?
    /// Whether the TPM was inferred from remaining-tokens readings (a lower bound), and the RPM stated
    /// by the service.
    private var tokensPerMinuteInferred = false
    private var requestsPerMinuteStated = false

    // The bucket (paced deployments).
    private var tokenBalance: Double = 0
    private var requestBalance: Double = 1
    private var lastRefill: Double
    /// Share of the rate this process allows itself: lowered by 429s, restored by successes; for
    /// provisioned deployments also steered by the utilization hint.
    private(set) var rateFactor: Double = 1
    private(set) var largestCharge = 0.0
    private var inFlightCharge = 0.0
    /// Admission times of the requests in flight, sorted.
    private var inFlightTimes: [Double] = []
    /// A request waits for the balance to be paid off (not idle).
    private var tokensAwaited = false

    // Learning.
    private(set) var calibration = ChargeCalibration()
    private(set) var provisionedUsage = ProvisionedUsage()
    private(set) var lastUtilization: Double?
    /// Provisioned: the rate factor that holds the bucket at the target (the integral part).
    private var provisionedBase = 1.0

    // Closed loop (provisioned of unknown capacity, or no limits known).
    private(set) var window: Double
    private var threshold: Double
    private var lastDecrease = -Double.infinity

    // Health.
    private(set) var inFlight = 0
    private(set) var pausedUntil = -Double.infinity
    private var consecutiveFailures = 0
    private(set) var circuitOpenUntil: Double?
    private var cooldown: Double
    private(set) var stopped: String?

    // Shared with the other workers of a run on a shared queue (``SharedPacingState``): the bucket,
    // the pause, the breaker and the ratio live in the queue's database; this governor keeps the
    // requests in flight within its concurrency and steers the rate.
    var shared = false
    /// The shared bucket said to wait until then (scheduler time).
    var sharedNotBefore = -Double.infinity
    /// The ratio the workers learned together, as of the last admission.
    var sharedRatio: Double?

    // Statistics.
    private(set) var admissions: [(time: Double, charge: Double)] = []
    private(set) var admissionsStart = 0
    private(set) var calls = 0
    private(set) var rateLimited = 0
    private(set) var failures = 0
    private(set) var latencyTotal = 0.0
    private(set) var reservedOutput = 0
    private(set) var completionTokens = 0
    private(set) var promptTokens = 0
    private(set) var answered = 0

    init(quota: DeploymentQuota, configuration: SchedulerConfiguration, now: Double) {
        self.quota = quota
        self.configuration = configuration
        lastRefill = now
        cooldown = configuration.breakerCooldown
        switch quota.kind {
        case .standard(let tpm, let rpm):
            tokensPerMinute = tpm
            requestsPerMinute = rpm ?? tpm.flatMap { quota.derivedRequestsPerMinute(tokensPerMinute: $0) }
        case .provisioned(_, let capacity):
            // Without calibration a provisioned deployment is run by the closed loop alone.
            if configuration.calibrates { tokensPerMinute = capacity }
            rateFactor = configuration.provisionedStartFactor
            provisionedBase = rateFactor
        }
        window = Double(min(quota.maxConcurrency, configuration.initialWindow))
        threshold = Double(quota.maxConcurrency)
        tokenBalance = 0
    }

    /// Whether admission is paced by a token budget (else by the closed loop).
    var pacedByTokens: Bool { tokensPerMinute != nil }

    /// Whether the token and request bucket is the one shared through the queue (a known limit: an
    /// inferred one is a lower bound each worker finds on its own).
    var sharesBucket: Bool { shared && pacedByTokens && !tokensPerMinuteInferred }

    /// The rates the shared bucket is refilled at, as this worker sees the limits.
    var pace: SharedPacingState.Pace {
        SharedPacingState.Pace(
            tokensPerSecond: tokensPerSecond, bank: capacity, creditCap: creditCap,
            requestsPerSecond: requestsPerSecond)
    }

    /// Still in slow start: no 429 yet, so its concurrency window says nothing about its capacity.
    /// A caller waits for such a deployment rather than spilling over to a lower priority.
    var rampingUp: Bool {
        !pacedByTokens && threshold >= Double(quota.maxConcurrency) && window < Double(quota.maxConcurrency)
            && stopped == nil && circuitOpenUntil == nil
    }

    /// The cap on requests in flight now.
    var concurrency: Int { pacedByTokens ? quota.maxConcurrency : max(1, Int(window)) }

    /// Tokens that may be banked while nothing waits: a tenth of a second's budget (what timer
    /// lateness would otherwise lose). A request is admitted once the balance is not negative and
    /// then takes it into debt by its charge, so a burst never exceeds the bank and one request.
    private var capacity: Double {
        guard let tpm = tokensPerMinute else { return 0 }
        return Double(tpm) / 600
    }

    /// How far credits (requests the service charged less than predicted) may lift the balance: two
    /// seconds' budget, so that what the prediction overestimated is used, but never in a burst.
    private var creditCap: Double { max(capacity + largestCharge, Double(tokensPerMinute ?? 0) / 30) }

    /// Tokens per second released. Standard: the TPM less the bank and one request (so no 60-second
    /// window can exceed it). Provisioned: the capacity. Both times the rate factor.
    var tokensPerSecond: Double {
        guard let tpm = tokensPerMinute.map(Double.init) else { return 0 }
        if quota.isProvisioned { return tpm / 60 * rateFactor }
        return max(tpm * 0.02, tpm - capacity - largestCharge) / 60 * rateFactor
    }

    /// Requests per second released; the bank holds one request, so a 1-second window never gets more
    /// than its share.
    private var requestsPerSecond: Double? {
        guard let rpm = requestsPerMinute.map(Double.init) else { return nil }
        let perSecond = rpm / 60
        return max(perSecond - 1, perSecond / 2)
    }

    /// What the bucket is charged for a request whose prompt part (Sluice's estimate, × n) and
    /// max_tokens part (× n) are given.
    func predict(prompt: Int, fixed: Int) -> Double {
        let (prompt, fixed) = (Double(prompt), Double(fixed))
        guard configuration.calibrates else { return prompt + fixed }
        if quota.isProvisioned {
            return provisionedUsage.expectedCost(
                prompt: prompt, maxTokens: fixed, outputWeight: quota.outputTokenWeight)
        }
        if sharesBucket, let sharedRatio { return sharedRatio * prompt + fixed }
        return calibration.predict(prompt: prompt, fixed: fixed)
    }

    private mutating func refill(_ now: Double) {
        let elapsed = max(0, now - lastRefill)
        lastRefill = now
        // Idle, the bank is small; while a request waits for tokens, what the wait's lateness
        // accrues is kept (it is spent at once), so a late timer costs no quota.
        let cap = tokensAwaited ? creditCap : capacity
        if pacedByTokens, tokenBalance < cap {
            tokenBalance = min(cap, tokenBalance + tokensPerSecond * elapsed)
        }
        if let rate = requestsPerSecond { requestBalance = min(1, requestBalance + rate * elapsed) }
    }

    /// Seconds until a request with this charge could be admitted: 0 now, `.infinity` when it waits for
    /// a call to finish, nil when the deployment is stopped for the run.
    mutating func wait(charge: Double, now: Double) -> Double? {
        if stopped != nil { return nil }
        refill(now)
        var wait = 0.0
        if now < pausedUntil { wait = pausedUntil - now }
        if let circuitOpenUntil {
            if now < circuitOpenUntil {
                wait = max(wait, circuitOpenUntil - now)
            } else if inFlight > 0 {
                return .infinity  // half open: one probe at a time
            }
        }
        if inFlight >= concurrency { return .infinity }
        if sharesBucket {
            // The bucket is the shared one: taken after this says yes.
            return max(wait, sharedNotBefore - now)
        }
        if pacedByTokens, tokenBalance < -0.5 {
            // Admitted once the debt of the last admissions is paid off.
            tokensAwaited = true
            let rate = tokensPerSecond
            wait = max(wait, rate > 0 ? -tokenBalance / rate : 1)
        }
        if let rate = requestsPerSecond, requestBalance < 1 - 1e-9 {
            wait = max(wait, rate > 0 ? (1 - requestBalance) / rate : 1)
        }
        return wait
    }

    /// Charges an admitted request (call after `wait` returned 0 at the same `now`).
    mutating func admit(charge: Double, reservedOutput: Int, now: Double) {
        largestCharge = max(largestCharge, charge)
        tokensAwaited = false
        if pacedByTokens && !sharesBucket { tokenBalance -= charge }
        if requestsPerSecond != nil && !sharesBucket { requestBalance -= 1 }
        inFlight += 1
        inFlightCharge += charge
        let index = inFlightTimes.lastIndex { $0 <= now }.map { $0 + 1 } ?? 0
        inFlightTimes.insert(now, at: index)
        self.reservedOutput += reservedOutput
        admissions.append((now, charge))
        trimHistory(now)
    }

    /// Frees the slot of an admission whose request was never sent (its tokens stay spent).
    mutating func release(charge: Double, admittedAt: Double) {
        inFlight = max(0, inFlight - 1)
        inFlightCharge = max(0, inFlightCharge - charge)
        if let index = inFlightTimes.lastIndex(of: admittedAt) { inFlightTimes.remove(at: index) }
    }

    /// Takes back an admission the shared bucket refused (nothing was sent, nothing charged).
    mutating func withdraw(charge: Double, admittedAt: Double) {
        release(charge: charge, admittedAt: admittedAt)
        if admissions.count > admissionsStart, admissions[admissions.count - 1].time == admittedAt {
            admissions.removeLast()
        }
    }

    /// Stops the deployment for the run (another worker was told a retry-after beyond the cap).
    mutating func stop(_ message: String) {
        if stopped == nil { stopped = message }
    }

    /// Takes a finished call into account; returns a message when the deployment stops.
    ///
    /// - Parameter paced: Whether the bucket was charged when it was admitted (it is not before the
    ///   limits are known).
    @discardableResult
    mutating func finish(_ request: ChargeCalibration.Request, paced: Bool, report: CallReport, now: Double)
        -> String?
    {
        release(charge: request.predicted, admittedAt: request.admittedAt)
        calls += 1
        latencyTotal += report.latencySeconds
        learnLimits(report)
        if case .answered = report.result {
            answered += 1
            promptTokens += report.promptTokens
            completionTokens += report.completionTokens
        }
        if configuration.calibrates {
            // A request the bucket never paid for is paid now, with the rest of what it cost.
            if pacedByTokens && !paced && !sharesBucket { tokenBalance -= request.predicted }
            if quota.isProvisioned {
                trueUpProvisioned(request, report: report)
            } else {
                trueUpStandard(request, report: report)
            }
        }
        switch report.result {
        case .answered:
            consecutiveFailures = 0
            if circuitOpenUntil != nil {
                circuitOpenUntil = nil
                cooldown = configuration.breakerCooldown
            }
            if !(quota.isProvisioned && pacedByTokens) { rateFactor = min(1, rateFactor + 0.005) }
            if request.admittedAt > lastDecrease, (report.utilization ?? 0) < 1 {
                window = min(Double(quota.maxConcurrency), window + (window < threshold ? 1 : 1 / window))
            }
        case .rateLimited(let retryAfter):
            rateLimited += 1
            consecutiveFailures = 0
            // Finite and not negative, whatever the caller parsed.
            let wait = retryAfter.map { $0.isNaN ? 1 : min(max(0, $0), 1e9) } ?? 1
            if wait > configuration.maxRetryAfterSeconds {
                stopped =
                    "\(quota.name): the service asked to retry after \(Int(wait)) s (quota used up, or a daily cap?), longer than the \(Int(configuration.maxRetryAfterSeconds)) s cap; no more requests go to it in this run"
                return stopped
            }
            pausedUntil = max(pausedUntil, now + wait)
            if request.admittedAt >= lastDecrease {
                // One decrease per round: requests sent before the last decrease say nothing new.
                threshold = max(1, window * 0.7)
                window = threshold
                lastDecrease = now
                if pacedByTokens && quota.isProvisioned {
                    provisionedBase = max(0.3, provisionedBase * 0.97)
                    rateFactor = min(rateFactor, provisionedBase)
                } else if pacedByTokens {
                    rateFactor = max(0.2, rateFactor * 0.95)
                }
            }
        case .failed:
            failures += 1
            consecutiveFailures += 1
            if let open = circuitOpenUntil {
                if now >= open {
                    // The probe failed: stay open, twice as long.
                    cooldown = min(configuration.breakerMaxCooldown, cooldown * 2)
                    circuitOpenUntil = now + cooldown
                }
            } else if consecutiveFailures >= configuration.breakerThreshold {
                circuitOpenUntil = now + cooldown
            }
        }
        return nil
    }

    /// Limits the service states (`x-ratelimit-limit-*`), when none were given.
    private mutating func learnLimits(_ report: CallReport) {
        guard !quota.isProvisioned else { return }
        if let limit = report.limitTokens, limit > 0, tokensPerMinute == nil || tokensPerMinuteInferred {
            if tokensPerMinute == nil { tokenBalance = 0 }
            tokensPerMinute = limit  // learned: from now on paced by tokens
            tokensPerMinuteInferred = false
        }
        if case .standard(_, nil) = quota.kind, let limit = report.limitRequests, limit > 0 {
            requestsPerMinute = limit
            requestsPerMinuteStated = true
        }
        deriveRequestsPerMinute()
    }

    /// With no RPM given or sent, the model's ratio of RPM to TPM (when the catalog knows it) gives one.
    private mutating func deriveRequestsPerMinute() {
        guard case .standard(_, nil) = quota.kind, !requestsPerMinuteStated, let tpm = tokensPerMinute else { return }
        requestsPerMinute = quota.derivedRequestsPerMinute(tokensPerMinute: tpm)
    }

    /// Standard: the bucket pays what the service's counter lost; a refused request was not charged.
    private mutating func trueUpStandard(_ request: ChargeCalibration.Request, report: CallReport) {
        // A shared bucket is trued up where it is kept, against every worker's charges.
        if sharesBucket { return }
        // The counter restarts at its limit: the one sent, else the TPM given.
        let reading = ChargeCalibration.Reading(
            remaining: report.remainingTokens,
            limit: report.limitTokens ?? (tokensPerMinuteInferred ? nil : tokensPerMinute), region: report.region)
        var debit: Double
        if case .rateLimited = report.result {
            // Its reading still shows what others took; its own charge is given back.
            let probe = ChargeCalibration.Request(prompt: 0, fixed: 0, predicted: 0, admittedAt: request.admittedAt)
            debit =
                calibration.observe(reading, request: probe, inFlightCharge: inFlightCharge, inFlight: inFlightTimes)
                - request.predicted
        } else {
            debit = calibration.observe(
                reading, request: request, inFlightCharge: inFlightCharge, inFlight: inFlightTimes)
        }
        if case .standard(nil, _) = quota.kind, tokensPerMinute == nil || tokensPerMinuteInferred,
            calibration.knownLimit == nil, let inferred = calibration.inferredLimit
        {
            // No limit given or sent: the counter's own readings bound it from below.
            if tokensPerMinute == nil { (debit, tokenBalance) = (0, 0) }
            tokensPerMinute = max(tokensPerMinute ?? 0, inferred)
            tokensPerMinuteInferred = true
            deriveRequestsPerMinute()
        }
        guard pacedByTokens else { return }
        tokenBalance = min(creditCap, tokenBalance - debit)
    }

    /// Provisioned: what the bucket still owes for a finished request (its usage against what it was
    /// charged; a refused one is given back: the PTUs processed nothing of it). Nil for standard
    /// deployments, whose counter readings say it.
    func provisionedDebit(_ request: ChargeCalibration.Request, report: CallReport) -> Double? {
        guard quota.isProvisioned, configuration.calibrates else { return nil }
        switch report.result {
        case .answered:
            let actual =
                Double(max(0, report.promptTokens - report.cachedTokens))
                + Double(report.completionTokens * quota.outputTokenWeight)
            return actual - request.predicted
        case .rateLimited: return -request.predicted
        case .failed: return 0
        }
    }

    /// Provisioned: the bucket pays the usage (prompt − cached + output × weight) once it is known;
    /// the utilization hint moves the rate toward its target.
    private mutating func trueUpProvisioned(_ request: ChargeCalibration.Request, report: CallReport) {
        switch report.result {
        case .answered:
            provisionedUsage.learn(
                report, prompt: request.prompt, maxTokens: request.fixed)
            guard pacedByTokens else { return }
            if !sharesBucket {
                tokenBalance = min(creditCap, tokenBalance - (provisionedDebit(request, report: report) ?? 0))
            }
            if let utilization = report.utilization, utilization >= 0, utilization < 10 {
                // Proportional-integral: the level the hint shows moves toward the target; the slow
                // part learns the rate that holds it there (the capacity's true size), the quick part
                // fills an empty bucket and brakes before it overflows.
                lastUtilization = utilization
                let error = max(-1, min(1, configuration.provisionedTargetUtilization - utilization))
                provisionedBase = min(1.1, max(0.3, provisionedBase + 0.002 * error))
                rateFactor = min(1.3, max(0.2, provisionedBase + 0.5 * error))
            } else {
                // No hint: probe slowly upward; a 429 brings it back down.
                provisionedBase = min(1.02, provisionedBase + 0.0002)
                rateFactor = provisionedBase
            }
        case .rateLimited:
            // Refused at once: the PTUs processed nothing of it.
            if pacedByTokens && !sharesBucket {
                tokenBalance = min(creditCap, tokenBalance - (provisionedDebit(request, report: report) ?? 0))
            }
        case .failed:
            break
        }
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
}
