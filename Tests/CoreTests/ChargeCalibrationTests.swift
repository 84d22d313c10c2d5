import Scheduler
import SluiceTesting
import Testing

/// Azure's standard TPM counter as the facts file describes it, written for these tests: each request
/// is charged at arrival with the service's own estimate (here `skew × prompt + max_tokens`, which the
/// scheduler is not told), the count resets each minute, a request that does not fit is refused.
/// Another client may spend a steady share in requests of 800 tokens.
struct FakeTPMCounter {
    let limit: Int
    var skew: Double
    var othersPerMinute: Double
    private var minute = -1
    private var used = 0.0
    private var nextOther = 0.0
    /// Everything charged, and ours alone, per minute; our refusals per minute.
    private(set) var charged: [Int: Double] = [:]
    private(set) var ours: [Int: Double] = [:]
    private(set) var refused: [Int: Int] = [:]
    private(set) var othersCharged = 0.0

    init(limit: Int, skew: Double, othersPerMinute: Double = 0) {
        self.limit = limit
        self.skew = skew
        self.othersPerMinute = othersPerMinute
    }

    private mutating func roll(to time: Double) {
        let now = Int(time / 60)
        if now != minute {
            minute = now
            used = 0
        }
    }

    /// Others' requests up to `time`, each charged when it arrives.
    private mutating func others(until time: Double) {
        guard othersPerMinute > 0 else { return }
        let interval = 60 * 800 / othersPerMinute
        while nextOther <= time {
            roll(to: nextOther)
            if used + 800 <= Double(limit) {
                used += 800
                charged[minute, default: 0] += 800
                othersCharged += 800
            }
            nextOther += interval
        }
    }

    /// Our request arrives: the remaining tokens after its charge, or nil for a 429.
    mutating func arrive(prompt: Int, fixed: Int, at time: Double) -> Int? {
        others(until: time)
        roll(to: time)
        let charge = (skew * Double(prompt)).rounded() + Double(fixed)
        guard used + charge <= Double(limit) else {
            refused[minute, default: 0] += 1
            return nil
        }
        used += charge
        charged[minute, default: 0] += charge
        ours[minute, default: 0] += charge
        return limit - Int(used)
    }

    /// Seconds to the next reset, for a 429's retry-after.
    func untilReset(at time: Double) -> Double { Double(Int(time / 60) + 1) * 60 - time }
}

@Suite struct ChargeCalibrationTests {
    /// Requests of varied prompts (400–800 tokens as Sluice counts them) + max_tokens 300, up to
    /// eight in flight, answered out of order; each response carries the counter's reading at its
    /// arrival. `mutate` may change the counter or a reading as time goes on.
    struct Drive {
        var counter: FakeTPMCounter
        /// Requests answered out of order from a pool this large (the closed loop of a deployment of
        /// unknown limits starts at 4 in flight).
        var inFlight = 8
        var admitted = 0
        var rateLimited: [Int: Int] = [:]
        var readings: (Double, inout CallReport) -> Void = { _, _ in }
        var change: (Double, inout FakeTPMCounter) -> Void = { _, _ in }

        mutating func run(_ scheduler: Scheduler, until end: Double, limitHeader: Bool = true) async throws {
            var pending: [(Scheduler.Admission, CallReport)] = []
            var seed: UInt64 = 0x2545_F491_4F6C_DD1D
            func next(_ bound: Int) -> Int {
                seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return Int((seed >> 33) % UInt64(bound))
            }
            while await scheduler.now < end {
                let prompt = 400 + next(401)
                let admission = try await scheduler.acquire(from: ["paygo"], charge: prompt + 300, reservedOutput: 300)
                change(admission.time, &counter)
                var report: CallReport
                if let remaining = counter.arrive(prompt: prompt, fixed: 300, at: admission.time) {
                    report = CallReport(
                        result: .answered, latencySeconds: 1, promptTokens: prompt, completionTokens: 100,
                        remainingTokens: remaining, limitTokens: limitHeader ? counter.limit : nil)
                } else {
                    rateLimited[Int(admission.time / 60), default: 0] += 1
                    report = CallReport(
                        result: .rateLimited(retryAfter: counter.untilReset(at: admission.time)), latencySeconds: 0.01)
                }
                readings(admission.time, &report)
                admitted += 1
                pending.append((admission, report))
                if pending.count >= inFlight {
                    let (done, doneReport) = pending.remove(at: next(pending.count))
                    await scheduler.finish(done, doneReport)
                }
            }
            for (done, doneReport) in pending { await scheduler.finish(done, doneReport) }
        }

        /// Share of the limit charged in each whole minute of `minutes`.
        func utilization(_ minutes: ClosedRange<Int>) -> [Double] {
            minutes.map { (counter.charged[$0] ?? 0) / Double(counter.limit) }
        }

        func refusals(_ minutes: ClosedRange<Int>) -> Int { minutes.reduce(0) { $0 + (rateLimited[$1] ?? 0) } }
    }

    static func scheduler(tpm: Int?, clock: VirtualClock) -> Scheduler {
        Scheduler(
            deployments: [
                DeploymentQuota(
                    name: "paygo", kind: .standard(tokensPerMinute: tpm, requestsPerMinute: nil), maxConcurrency: 64,
                    requestsPerThousandTokens: 6)
            ], clock: clock)
    }

    static func ratio(_ scheduler: Scheduler) async -> Double { await scheduler.statuses()[0].chargeRatio ?? 0 }

    @Test(arguments: [0.6, 0.8, 1.25, 1.6])
    func convergesFromEitherSideWithinTheFirstMinuteAndUsesTheTPM(skew: Double) async throws {
        let clock = VirtualClock()
        let scheduler = Self.scheduler(tpm: 300_000, clock: clock)
        var drive = Drive(counter: FakeTPMCounter(limit: 300_000, skew: skew))
        try await drive.run(scheduler, until: 60)
        let early = await Self.ratio(scheduler)
        #expect(abs(early - skew) / skew < 0.05, "ratio \(early) after the first minute, skew \(skew)")
        try await drive.run(scheduler, until: 360)
        let ratio = await Self.ratio(scheduler)
        #expect(abs(ratio - skew) / skew < 0.03, "ratio \(ratio), skew \(skew)")
        // The naive count (the skew unknown) would use 1/skew of the TPM or hit the limit each minute.
        for (minute, share) in zip(1...5, drive.utilization(1...5)) {  // whole minutes after the first
            #expect(share >= 0.96 && share <= 1, "minute \(minute): \(share) of the TPM")
        }
        #expect(drive.refusals(1...5) == 0)
    }

    @Test func followsAChangeOfTheServicesRuleMidRun() async throws {
        let clock = VirtualClock()
        let scheduler = Self.scheduler(tpm: 300_000, clock: clock)
        var drive = Drive(counter: FakeTPMCounter(limit: 300_000, skew: 0.8))
        drive.change = { time, counter in counter.skew = time < 180 ? 0.8 : 1.25 }
        try await drive.run(scheduler, until: 180)
        #expect(abs(await Self.ratio(scheduler) - 0.8) < 0.04)
        try await drive.run(scheduler, until: 420)
        let ratio = await Self.ratio(scheduler)
        #expect(abs(ratio - 1.25) < 0.06, "ratio \(ratio) two minutes after the change")
        // Charged more than predicted, it slowed down before the counter ran out: at most a few
        // refusals in the minute of the change, none after.
        #expect(drive.refusals(3...3) <= 5 && drive.refusals(4...6) == 0, "\(drive.rateLimited)")
        for share in drive.utilization(4...6) { #expect(share >= 0.96 && share <= 1, "\(drive.utilization(4...6))") }
    }

    @Test func aSharingClientIsNotTakenForAHigherCharge() async throws {
        let clock = VirtualClock()
        let scheduler = Self.scheduler(tpm: 300_000, clock: clock)
        var drive = Drive(counter: FakeTPMCounter(limit: 300_000, skew: 0.9, othersPerMinute: 120_000))
        try await drive.run(scheduler, until: 360)
        let status = await scheduler.statuses()[0]
        let ratio = try #require(status.chargeRatio)
        #expect(abs(ratio - 0.9) < 0.05, "ratio \(ratio): the other client's use must not inflate it")
        let others = Double(try #require(status.othersTokensPerMinute))
        #expect(abs(others - 120_000) < 20_000, "others \(others) tokens/min")
        // Together they use the deployment, and this client takes only what is left.
        for share in drive.utilization(1...5) { #expect(share >= 0.97 && share <= 1, "\(drive.utilization(1...5))") }
        #expect(drive.refusals(1...5) <= 2)
    }

    @Test func missingZeroNegativeAndOtherBackendsReadingsAreSurvived() async throws {
        let clock = VirtualClock()
        let scheduler = Self.scheduler(tpm: 300_000, clock: clock)
        var drive = Drive(counter: FakeTPMCounter(limit: 300_000, skew: 1.2))
        var count = 0
        drive.readings = { _, report in
            count += 1
            switch count % 10 {
            case 1: report.remainingTokens = nil
            case 2: report.remainingTokens = -1
            case 3: report.remainingTokens = 0
            case 4, 5:
                // Another regional backend with a counter of its own, far from this one's.
                report.region = "swedencentral"
                report.remainingTokens = report.remainingTokens.map { max(1, $0 / 3) }
            default: report.region = "eastus2"
            }
        }
        try await drive.run(scheduler, until: 300)
        let ratio = await Self.ratio(scheduler)
        #expect(abs(ratio - 1.2) < 0.08, "ratio \(ratio)")
        for share in drive.utilization(1...4) { #expect(share >= 0.92 && share <= 1, "\(drive.utilization(1...4))") }
        #expect(drive.refusals(1...4) <= 2)
    }

    @Test(arguments: [true, false])
    func unknownLimitsReachTheSameSteadyStateAfterTheFirstMinute(limitHeader: Bool) async throws {
        let clock = VirtualClock()
        let scheduler = Self.scheduler(tpm: nil, clock: clock)
        var drive = Drive(counter: FakeTPMCounter(limit: 300_000, skew: 0.8), inFlight: 3)
        try await drive.run(scheduler, until: 360, limitHeader: limitHeader)
        let status = await scheduler.statuses()[0]
        // From the limit header, or from the readings (a lower bound that reaches the limit once a
        // minute's first request is seen).
        let limit = try #require(status.tokensPerMinuteLimit)
        #expect(limit <= 300_000 && limit >= 297_000, "limit \(limit)")
        for share in drive.utilization(2...5) { #expect(share >= 0.97 && share <= 1, "\(drive.utilization(2...5))") }
        #expect(drive.refusals(2...5) <= 1)
    }

    @Test func theDocumentedRuleIsTheStartingPoint() async throws {
        let clock = VirtualClock()
        let scheduler = Self.scheduler(tpm: 300_000, clock: clock)
        #expect(await Self.ratio(scheduler) == 1)
        // The first request is charged its estimate at face value: prompt + max_tokens.
        let first = try await scheduler.acquire(from: ["paygo"], charge: 900, reservedOutput: 300)
        #expect(first.predicted == 900)
    }

    @Test func theNaivePacerKeepsItsOwnCountAndFallsShort() async throws {
        // Calibration off: charged Sluice's count at face value, a service that counts less is left
        // unused (what the benchmark compares with).
        let clock = VirtualClock()
        let scheduler = Scheduler(
            deployments: [
                DeploymentQuota(name: "paygo", kind: .standard(tokensPerMinute: 300_000, requestsPerMinute: nil))
            ], configuration: SchedulerConfiguration(calibrates: false), clock: clock)
        var drive = Drive(counter: FakeTPMCounter(limit: 300_000, skew: 0.6))
        try await drive.run(scheduler, until: 240)
        for share in drive.utilization(1...3) { #expect(share < 0.9) }
        #expect(await scheduler.statuses()[0].chargeRatio == nil)
    }
}
