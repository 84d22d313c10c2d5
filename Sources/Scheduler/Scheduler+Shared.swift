/// Admission on a queue many workers share: the bucket, the pause, the breaker and the calibration of
/// a deployment are one ``SharedPacingState`` in the queue's database.
extension Scheduler {
    /// How far ahead of its slot a request may take it (real seconds): a round trip to the database
    /// and a timer's lateness.
    static let sharedHorizon = 0.05

    /// Takes an admission's charge from the shared bucket, with how long (scheduler seconds) to wait
    /// for its slot before sending; nil (and the admission withdrawn) when the bucket says to wait,
    /// or that the deployment is stopped.
    func take(_ admission: Admission, from store: any SharedPacingStore) async -> (Admission, delay: Double)? {
        let name = admission.deployment
        guard let governor = governors[name] else { return nil }
        let speedUp = clock.speedUp
        var asked = Self.sharedRequest(admission, governor)
        asked.pace.horizon = Self.sharedHorizon * speedUp
        let request = asked
        let grant: SharedPacingState.Grant
        do {
            grant = try await store.update(deployment: name) { state, now in state.take(request, now: now * speedUp) }
        } catch {
            // The queue's database is out of reach: nothing is sent until it is back (its commits
            // could not be made either).
            note(
                "\(name): the shared pacing state cannot be read (\(error)); requests wait for the queue's database",
                key: "shared " + name)
            grant = .wait(speedUp)
        }
        switch grant {
        case .granted(let position, let ratio, let delay):
            governors[name]?.sharedRatio = ratio
            var taken = admission
            taken.position = position
            return (taken, delay)
        case .wait(let seconds):
            governors[name]?.withdraw(charge: admission.predicted, admittedAt: admission.time)
            governors[name]?.sharedNotBefore = clock.now + seconds
        case .stopped(let message):
            governors[name]?.withdraw(charge: admission.predicted, admittedAt: admission.time)
            governors[name]?.stop(message)
            note(message, key: "stopped " + name)
        }
        wakeHeads(using: name)
        return nil
    }

    /// An admission as the shared state sees it: its charge's parts and the rates of this worker.
    static func sharedRequest(_ admission: Admission, _ governor: Governor) -> SharedPacingState.Request {
        SharedPacingState.Request(
            prompt: Double(admission.charge - admission.reservedOutput), fixed: Double(admission.reservedOutput),
            predicted: admission.predicted, pace: governor.pace)
    }

    /// Reports a shared admission's end to the shared state (in the background: the caller does not
    /// wait for the database; a report lost to an error costs only its true-up).
    func settle(
        _ admission: Admission, _ report: CallReport, at position: SharedPacingState.Position,
        in store: any SharedPacingStore
    ) {
        guard let governor = governors[admission.deployment] else { return }
        let configuration = governor.configuration
        let result: SharedPacingState.Outcome.Result
        switch report.result {
        case .answered: result = .answered
        case .rateLimited(let retryAfter): result = .rateLimited(retryAfter: retryAfter ?? 1)
        case .failed: result = .failed
        }
        let outcome = SharedPacingState.Outcome(
            request: Self.sharedRequest(admission, governor), position: position, result: result,
            debit: governor.provisionedDebit(admission.request, report: report),
            remaining: report.remainingTokens, limit: report.limitTokens ?? governor.tokensPerMinute,
            breakerThreshold: configuration.breakerThreshold, breakerCooldown: configuration.breakerCooldown,
            breakerMaxCooldown: configuration.breakerMaxCooldown, maxRetryAfter: configuration.maxRetryAfterSeconds,
            deployment: admission.deployment)
        let speedUp = clock.speedUp
        Task {
            try? await store.update(deployment: admission.deployment) { state, now in
                state.settle(outcome, now: now * speedUp)
            }
        }
    }
}
