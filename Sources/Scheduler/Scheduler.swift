/// Decides which deployment serves each call, and when: the call stage asks it for admission.
///
/// Within a pool, deployments of the best (lowest) priority are tried first; when all of them are
/// full, paused or failing, the next priority gets the request at once. Among deployments of one
/// priority that can take a request, smooth weighted round robin splits traffic by weight. A caller
/// waits (without holding anything) until some deployment can take its request; if every deployment
/// of its pool is stopped for the run, it gets a ``SchedulerError`` that says why.
public actor Scheduler {
    var governors: [String: Governor] = [:]
    private var currentWeights: [String: Double] = [:]
    let clock: any SchedulerClock
    /// The queue's store of the deployments' shared pacing state (many workers on one queue).
    let shared: (any SharedPacingStore)?
    private var nextID = 0
    private var warned: Set<String> = []
    private var pendingWarnings: [String] = []
    /// Requests waiting for admission, oldest first.
    var waiters: [Waiter] = []
    var nextWaiter = 0
    /// Every warning so far, in order.
    public private(set) var warnings: [String] = []

    /// A granted request: which deployment, and what was charged when.
    public struct Admission: Sendable, Hashable {
        /// The deployment to send to.
        public let deployment: String
        /// Scheduler time of the admission.
        public let time: Double
        /// The request's charge as the caller estimated it (Azure's rule: prompt + max_tokens, × n).
        public let charge: Int
        /// What the deployment's bucket was charged: the calibrated prediction of the service's charge.
        public let predicted: Double
        /// The max_tokens part of `charge`.
        let reservedOutput: Int
        /// Whether the bucket was charged (not before the deployment's limits are known).
        let paced: Bool
        let id: Int
        /// Where it was taken from the shared bucket (a run on a shared queue).
        var position: SharedPacingState.Position?

        var request: ChargeCalibration.Request {
            ChargeCalibration.Request(
                prompt: Double(charge - reservedOutput), fixed: Double(reservedOutput), predicted: predicted,
                admittedAt: time)
        }
    }

    /// - Parameters:
    ///   - clock: Scheduler time (tests inject a virtual clock).
    ///   - shared: Where the workers of a shared queue keep the deployments' buckets, pauses, breakers
    ///     and calibration; nil: this process paces alone.
    public init(
        deployments: [DeploymentQuota], configuration: SchedulerConfiguration = SchedulerConfiguration(),
        clock: any SchedulerClock = ScaledClock(), shared: (any SharedPacingStore)? = nil
    ) {
        self.clock = clock
        self.shared = shared
        let now = clock.now
        for quota in deployments {
            governors[quota.name] = Governor(quota: quota, configuration: configuration, now: now)
            governors[quota.name]?.shared = shared != nil
            currentWeights[quota.name] = 0
        }
    }

    /// Waits until a deployment of `pool` can take a request charged `charge` tokens, and admits it.
    ///
    /// - Parameters:
    ///   - pool: Deployment names the request may go to.
    ///   - charge: Azure's estimate at arrival (prompt estimate + max_tokens, × n).
    ///   - reservedOutput: The max_tokens part of the charge (max_tokens × n). Each deployment charges
    ///     the request its calibrated prediction of the service's charge, built from the two parts.
    /// - Throws: ``SchedulerError`` when every deployment of the pool is stopped or unknown;
    ///   `CancellationError` when the task is cancelled while waiting.
    public func acquire(from pool: [String], charge: Int, reservedOutput: Int = 0) async throws -> Admission {
        let fixed = min(max(0, reservedOutput), max(0, charge))
        let prompt = max(0, charge) - fixed
        let id = enter(pool)
        defer { leave(id) }
        while true {
            try Task.checkCancellation()
            // Requests of one pool are admitted in arrival order: only the oldest looks, the rest
            // wait for it to be admitted (or to give up), so a freed slot wakes one waiter, not all.
            guard isHead(id) else {
                await park(id, for: nil)
                continue
            }
            switch try attempt(pool, prompt: prompt, fixed: fixed) {
            case .admitted(let admission):
                guard let shared, governors[admission.deployment]?.sharesBucket == true else { return admission }
                // Taken from the bucket all workers share; refused, the governor knows how long to wait.
                if let (taken, delay) = await take(admission, from: shared) {
                    guard delay > 0 else { return taken }
                    // Its slot is a moment away: the next request of the pool may take the one after.
                    leave(id)
                    do {
                        try await clock.sleep(seconds: delay)
                    } catch {
                        cancel(taken)
                        throw error
                    }
                    return taken
                }
            case .wait(let seconds): await park(id, for: min(seconds, Self.longestWait))
            }
        }
    }

    /// The longest a waiting request sleeps without being woken (scheduler seconds): a safety net,
    /// since every change that can admit it (a finished or cancelled call) wakes it.
    static let longestWait = 1.0

    private enum Attempt {
        case admitted(Admission)
        /// Nothing can take the request for this many seconds (infinity: until a call finishes).
        case wait(Double)
    }

    /// Admits the request to a deployment of the pool that can take it now, or says how long until one can.
    private func attempt(_ pool: [String], prompt: Int, fixed: Int) throws -> Attempt {
        let priorities = Set(pool.compactMap { governors[$0]?.quota.priority }).sorted()
        let now = clock.now
        var earliest = Double.infinity
        var usable = false
        priorities: for priority in priorities {
            var ready: [String] = []
            var ramping = false
            for name in pool {
                guard var governor = governors[name], governor.quota.priority == priority else { continue }
                let wait = governor.wait(charge: governor.predict(prompt: prompt, fixed: fixed), now: now)
                governors[name] = governor
                guard let wait else { continue }
                usable = true
                if wait <= 0 { ready.append(name) } else { earliest = min(earliest, wait) }
                if wait == .infinity && governor.rampingUp { ramping = true }
            }
            if let name = pick(ready), var governor = governors[name] {
                let predicted = governor.predict(prompt: prompt, fixed: fixed)
                let paced = governor.pacedByTokens
                governor.admit(charge: predicted, reservedOutput: fixed, now: now)
                governors[name] = governor
                nextID += 1
                return .admitted(
                    Admission(
                        deployment: name, time: now, charge: prompt + fixed, predicted: predicted,
                        reservedOutput: fixed, paced: paced, id: nextID))
            }
            // Not known to be full yet: wait for it instead of spilling to a lower priority.
            if ramping { break priorities }
        }
        guard usable else {
            let reasons = pool.map { name in governors[name]?.stopped ?? "\(name): no such deployment" }
            throw SchedulerError(message: "no deployment can take requests: " + reasons.joined(separator: "; "))
        }
        return .wait(earliest)
    }

    /// Smooth weighted round robin (as in nginx): deterministic, and spread out rather than bursty.
    private func pick(_ names: [String]) -> String? {
        guard names.count > 1 else { return names.first }
        let total = names.reduce(0) { $0 + (governors[$1]?.quota.weight ?? 0) }
        var best: String?
        for name in names {
            currentWeights[name, default: 0] += governors[name]?.quota.weight ?? 0
            if best == nil || currentWeights[name, default: 0] > currentWeights[best ?? "", default: 0] { best = name }
        }
        if let best { currentWeights[best, default: 0] -= total }
        return best
    }

    /// Reports how an admitted call ended. Returns a message when this stops the deployment for the run.
    @discardableResult
    public func finish(_ admission: Admission, _ report: CallReport) -> String? {
        if let shared, let position = admission.position { settle(admission, report, at: position, in: shared) }
        let stopped = governors[admission.deployment]?.finish(
            admission.request, paced: admission.paced, report: report, now: clock.now)
        wakeHeads(using: admission.deployment)
        if let stopped { note(stopped, key: "stopped " + admission.deployment) }
        let key = "over-reservation " + admission.deployment
        if !warned.contains(key), let warning = governors[admission.deployment]?.overReservation {
            note(warning, key: key)
        }
        return stopped
    }

    /// Gives an admission back without a call (the request was never sent).
    ///
    /// A request of a shared bucket stays charged there (the other workers may have paced around it).
    public func cancel(_ admission: Admission) {
        governors[admission.deployment]?.release(charge: admission.predicted, admittedAt: admission.time)
        wakeHeads(using: admission.deployment)
    }

    func note(_ message: String, key: String) {
        if warned.insert(key).inserted {
            pendingWarnings.append(message)
            warnings.append(message)
        }
    }

    /// Warnings since the last call (deployments stopped, max_tokens over-reserving), each once.
    public func takeWarnings() -> [String] {
        defer { pendingWarnings.removeAll() }
        return pendingWarnings
    }

    /// Every deployment's state now, by name.
    public func statuses() -> [DeploymentStatus] {
        let now = clock.now
        return governors.keys.sorted().compactMap { governors[$0]?.status(now: now) }
    }

    /// Scheduler seconds now.
    public var now: Double { clock.now }
}
