import Scheduler
import SluiceTesting
import Synchronization
import Testing

@Suite struct SchedulerTests {
    static func standard(_ name: String, tpm: Int?, rpm: Int?, priority: Int = 1, weight: Double = 1)
        -> DeploymentQuota
    {
        DeploymentQuota(
            name: name, kind: .standard(tokensPerMinute: tpm, requestsPerMinute: rpm), maxConcurrency: 64,
            priority: priority, weight: weight)
    }

    /// Admits `count` requests one after another, each answered at once; returns admission times.
    func admitInSequence(_ scheduler: Scheduler, count: Int, charge: Int, pool: [String]) async throws
        -> [Scheduler.Admission]
    {
        var admissions: [Scheduler.Admission] = []
        for _ in 0..<count {
            let admission = try await scheduler.acquire(from: pool, charge: charge)
            await scheduler.finish(admission, CallReport(result: .answered, latencySeconds: 0.1))
            admissions.append(admission)
        }
        return admissions
    }

    @Test func standardPacingFillsTheTPMWithoutEverExceedingItInAnyMinute() async throws {
        let clock = VirtualClock()
        let scheduler = Scheduler(deployments: [Self.standard("paygo", tpm: 300_000, rpm: 1_800)], clock: clock)
        let admissions = try await admitInSequence(scheduler, count: 1_200, charge: 1_300, pool: ["paygo"])
        let times = admissions.map(\.time)
        // No burst: the first second gets about one second's budget, not a minute's.
        #expect(admissions.filter { $0.time < 1 }.count <= 6)
        // Every 60-second window (starting at any admission) stays under the TPM.
        var worst = 0
        var end = 0
        for start in times.indices {
            while end < times.count && times[end] < times[start] + 60 { end += 1 }
            worst = max(worst, (end - start) * 1_300)
        }
        #expect(worst <= 300_000)
        // And the quota is used: over the whole span, at least 98% of the TPM.
        let minutes = ((times.last ?? 0) - (times.first ?? 0)) / 60
        let used = Double((admissions.count - 1) * 1_300) / minutes
        #expect(used >= 0.98 * 300_000, "used \(used) tokens/min")
    }

    @Test func requestsPerMinuteHoldOverOneSecondWindows() async throws {
        let clock = VirtualClock()
        let scheduler = Scheduler(deployments: [Self.standard("paygo", tpm: 1_000_000, rpm: 600)], clock: clock)
        let times = try await admitInSequence(scheduler, count: 300, charge: 10, pool: ["paygo"]).map(\.time)
        for (index, time) in times.enumerated() {
            let inWindow = times[index...].prefix { $0 < time + 1 }.count
            #expect(inWindow <= 10)
        }
        #expect(times.count * 60 / Int((times.last ?? 1).rounded(.up)) >= 500)
    }

    @Test func a429PausesTheWholeDeploymentForItsRetryAfter() async throws {
        let clock = VirtualClock()
        let scheduler = Scheduler(deployments: [Self.standard("paygo", tpm: nil, rpm: nil)], clock: clock)
        let first = try await scheduler.acquire(from: ["paygo"], charge: 100)
        await scheduler.finish(first, CallReport(result: .rateLimited(retryAfter: 7), latencySeconds: 0.01))
        let pausedAt = clock.now
        let next = try await scheduler.acquire(from: ["paygo"], charge: 100)
        #expect(next.time >= pausedAt + 7)
    }

    @Test func aRetryAfterBeyondTheCapStopsTheDeploymentAndTheRestCarryOn() async throws {
        let clock = VirtualClock()
        let scheduler = Scheduler(
            deployments: [
                Self.standard("capped", tpm: nil, rpm: nil), Self.standard("other", tpm: nil, rpm: nil, priority: 2),
            ],
            clock: clock)
        let first = try await scheduler.acquire(from: ["capped", "other"], charge: 100)
        #expect(first.deployment == "capped")
        let message = await scheduler.finish(
            first, CallReport(result: .rateLimited(retryAfter: 86_400), latencySeconds: 0.01))
        #expect(message?.contains("86400 s") == true)
        #expect(clock.now < 1)
        let next = try await scheduler.acquire(from: ["capped", "other"], charge: 100)
        #expect(next.deployment == "other")
        await #expect(throws: SchedulerError.self) { try await scheduler.acquire(from: ["capped"], charge: 100) }
        #expect(await scheduler.takeWarnings().contains { $0.contains("capped") && $0.contains("86400") })
    }

    @Test func provisionedConcurrencyRisesWhileAdmittedAndFallsOnA429() async throws {
        let clock = VirtualClock()
        let ptu = DeploymentQuota(name: "ptu", kind: .provisioned(ptu: 15, tokensPerMinute: nil), maxConcurrency: 200)
        let scheduler = Scheduler(deployments: [ptu], clock: clock)
        var held: [Scheduler.Admission] = []
        // Slow start: each answered call lets one more in.
        for _ in 0..<40 {
            held.append(try await scheduler.acquire(from: ["ptu"], charge: 1_000))
            if held.count >= 2 {
                await scheduler.finish(held.removeFirst(), CallReport(result: .answered, latencySeconds: 0.5))
            }
        }
        let grown = await scheduler.statuses()[0].concurrency
        #expect(grown > 10)
        await scheduler.finish(
            held.removeFirst(), CallReport(result: .rateLimited(retryAfter: 0.2), latencySeconds: 0.01))
        let shrunk = await scheduler.statuses()[0].concurrency
        #expect(shrunk < grown && Double(shrunk) >= Double(grown) * 0.6)
    }

    @Test func higherPriorityFillsFirstAndOverflowSpillsAtOnce() async throws {
        let clock = VirtualClock()
        let ptu = DeploymentQuota(
            name: "ptu", kind: .provisioned(ptu: 15, tokensPerMinute: nil), maxConcurrency: 2, priority: 1)
        let scheduler = Scheduler(
            deployments: [ptu, Self.standard("paygo", tpm: nil, rpm: nil, priority: 2)],
            configuration: SchedulerConfiguration(initialWindow: 2), clock: clock)
        let pool = ["paygo", "ptu"]
        let a = try await scheduler.acquire(from: pool, charge: 10)
        let b = try await scheduler.acquire(from: pool, charge: 10)
        let c = try await scheduler.acquire(from: pool, charge: 10)
        #expect([a.deployment, b.deployment, c.deployment] == ["ptu", "ptu", "paygo"])
        #expect(clock.now == 0)
        await scheduler.finish(a, CallReport(result: .answered, latencySeconds: 0.1))
        #expect(try await scheduler.acquire(from: pool, charge: 10).deployment == "ptu")
    }

    @Test func weightsSplitTrafficWithinAPriority() async throws {
        let clock = VirtualClock()
        let scheduler = Scheduler(
            deployments: [
                Self.standard("east", tpm: nil, rpm: nil, weight: 3),
                Self.standard("west", tpm: nil, rpm: nil, weight: 1),
            ], clock: clock)
        let admissions = try await admitInSequence(scheduler, count: 400, charge: 10, pool: ["east", "west"])
        #expect(admissions.filter { $0.deployment == "east" }.count == 300)
    }

    @Test func persistentFailuresOpenTheCircuitUntilAProbeSucceeds() async throws {
        let clock = VirtualClock()
        let scheduler = Scheduler(
            deployments: [
                Self.standard("flaky", tpm: nil, rpm: nil), Self.standard("steady", tpm: nil, rpm: nil, priority: 2),
            ],
            clock: clock)
        let pool = ["flaky", "steady"]
        for _ in 0..<5 {
            let admission = try await scheduler.acquire(from: pool, charge: 10)
            #expect(admission.deployment == "flaky")
            await scheduler.finish(admission, CallReport(result: .failed, latencySeconds: 0.1))
        }
        // Open: traffic goes to the next deployment, without waiting.
        let during = try await scheduler.acquire(from: pool, charge: 10)
        #expect(during.deployment == "steady" && clock.now < 1)
        await scheduler.finish(during, CallReport(result: .answered, latencySeconds: 0.1))
        #expect(await scheduler.statuses().first { $0.name == "flaky" }?.state.contains("circuit open") == true)
        // After the cooldown one probe goes through; its success closes the circuit.
        clock.advance(11)
        let probe = try await scheduler.acquire(from: pool, charge: 10)
        #expect(probe.deployment == "flaky")
        await scheduler.finish(probe, CallReport(result: .answered, latencySeconds: 0.1))
        #expect(await scheduler.statuses().first { $0.name == "flaky" }?.state == "ready")
    }

    @Test func otherClientsUseIsLearnedFromRemainingTokens() async throws {
        // Another client spends half of a 120k TPM deployment; the server's remaining-tokens counter
        // (reset each minute) tells this scheduler, which then takes only the rest.
        let clock = VirtualClock()
        let scheduler = Scheduler(deployments: [Self.standard("shared", tpm: 120_000, rpm: nil)], clock: clock)
        var ours: [Double] = []
        while clock.now < 300 {
            let admission = try await scheduler.acquire(from: ["shared"], charge: 500)
            let now = admission.time
            let minute = Int(now / 60)
            ours.append(now)
            let others = Int(now.truncatingRemainder(dividingBy: 60) * 1_000)  // 60k per minute, evenly
            let oursThisMinute = ours.filter { Int($0 / 60) == minute }.count * 500
            await scheduler.finish(
                admission,
                CallReport(
                    result: .answered, latencySeconds: 0.1, remainingTokens: 120_000 - others - oursThisMinute))
        }
        let lastMinutes = ours.filter { $0 >= 120 }.count * 500
        let perMinute = Double(lastMinutes) / ((clock.now - 120) / 60)
        #expect(perMinute > 50_000 && perMinute < 60_000, "took \(perMinute) tokens/min of the 60,000 left")
    }

    @Test func overReservedMaxTokensIsReportedWithWhatItCosts() async throws {
        let clock = VirtualClock()
        let scheduler = Scheduler(
            deployments: [DeploymentQuota(name: "ptu", kind: .provisioned(ptu: 15, tokensPerMinute: nil))],
            clock: clock)
        for _ in 0..<60 {
            let admission = try await scheduler.acquire(from: ["ptu"], charge: 1_300, reservedOutput: 300)
            await scheduler.finish(
                admission,
                CallReport(result: .answered, latencySeconds: 0.5, promptTokens: 1_000, completionTokens: 40))
        }
        let warning = try #require(await scheduler.warnings.first)
        #expect(warning.contains("ptu") && warning.contains("average 40 tokens") && warning.contains("reserves 300"))
    }
}
