import Call
import Foundation
import Queue
import SluiceTesting
import Testing

@testable import Pipeline
@testable import Scheduler

/// The pacing state workers of one queue share: one bucket, one pause, one breaker, one calibration.
/// Expected values are worked out by hand from the rules of the service, not by the state's code.
@Suite struct SharedPacingTests {
    /// 300,000 TPM: 5,000 tokens a second, a bank of a tenth of a second; 1,800 RPM in 1 s windows.
    static let pace = SharedPacingState.Pace(
        tokensPerSecond: 5_000, bank: 500, creditCap: 10_000, requestsPerSecond: 29)

    static func request(prompt: Double = 1_000, fixed: Double = 300, predicted: Double? = nil)
        -> SharedPacingState.Request
    {
        SharedPacingState.Request(prompt: prompt, fixed: fixed, predicted: predicted ?? prompt + fixed, pace: pace)
    }

    static func outcome(
        _ request: SharedPacingState.Request, at position: SharedPacingState.Position,
        _ result: SharedPacingState.Outcome.Result = .answered, remaining: Int? = nil, limit: Int? = 300_000
    ) -> SharedPacingState.Outcome {
        SharedPacingState.Outcome(
            request: request, position: position, result: result, debit: nil, remaining: remaining, limit: limit,
            breakerThreshold: 5, breakerCooldown: 10, breakerMaxCooldown: 300, maxRetryAfter: 120,
            deployment: "paygo")
    }

    static func granted(_ grant: SharedPacingState.Grant) throws -> SharedPacingState.Position {
        guard case .granted(let position, _, _) = grant else {
            Issue.record("expected a grant, got \(grant)")
            throw CancellationError()
        }
        return position
    }

    @Test func workersTogetherSendWhatOneBucketAllowsAndUseIt() {
        // Three workers, each asking again as soon as it was admitted or its wait is over.
        var state = SharedPacingState()
        var next = [0.0, 0.013, 0.029]
        var admitted = 0.0
        while let worker = next.indices.min(by: { next[$0] < next[$1] }), next[worker] < 60 {
            let now = next[worker]
            switch state.take(Self.request(), now: now) {
            case .granted:
                admitted += 1_300
                next[worker] = now + 0.001
            case .wait(let seconds): next[worker] = now + seconds
            case .stopped: Issue.record("stopped")
            }
        }
        // 60 s at 5,000 a second, plus the bank and the one request a bucket may run into debt by.
        #expect(admitted <= 300_000 + 500 + 1_300, "\(admitted)")
        #expect(admitted >= 0.97 * 300_000, "\(admitted)")
    }

    @Test func aRateLimitPausesEveryWorkerAndALongOneStopsThem() throws {
        var state = SharedPacingState()
        let request = Self.request()
        let position = try Self.granted(state.take(request, now: 10))
        state.settle(Self.outcome(request, at: position, .rateLimited(retryAfter: 5)), now: 10)
        // Another worker, a second later, waits out the rest of the pause.
        guard case .wait(let seconds) = state.take(request, now: 11) else {
            Issue.record("not paused")
            return
        }
        #expect(abs(seconds - 4) < 0.01)
        _ = try Self.granted(state.take(request, now: 15.01))
        state.settle(Self.outcome(request, at: position, .rateLimited(retryAfter: 86_400)), now: 16)
        guard case .stopped(let message) = state.take(request, now: 400) else {
            Issue.record("not stopped")
            return
        }
        #expect(message.contains("paygo") && message.contains("86400"))
    }

    @Test func theBreakerOpensForEveryWorkerAndOneProbeAtATimeTestsIt() throws {
        var state = SharedPacingState()
        let request = Self.request(prompt: 10, fixed: 0)
        var positions: [SharedPacingState.Position] = []
        for index in 0..<5 { positions.append(try Self.granted(state.take(request, now: Double(index)))) }
        // Five failures in a row, from whoever sent them, open it for the 10 s cooldown.
        for (index, position) in positions.enumerated() {
            state.settle(Self.outcome(request, at: position, .failed), now: 5 + Double(index) * 0.1)
        }
        guard case .wait(let seconds) = state.take(request, now: 6) else {
            Issue.record("the circuit did not open")
            return
        }
        #expect(abs(seconds - 9.4) < 0.01, "opened at the fifth, at 5.4, for 10 s")
        let probe = try Self.granted(state.take(request, now: 15.5))
        guard case .wait = state.take(request, now: 15.6) else {
            Issue.record("a second request went through while the probe was out")
            return
        }
        // The probe failed: open twice as long.
        state.settle(Self.outcome(request, at: probe, .failed), now: 16)
        guard case .wait(let longer) = state.take(request, now: 16) else {
            Issue.record("not reopened")
            return
        }
        #expect(abs(longer - 20) < 0.01)
        let second = try Self.granted(state.take(request, now: 36.5))
        state.settle(Self.outcome(request, at: second, .answered), now: 37)
        _ = try Self.granted(state.take(request, now: 37))
    }

    @Test func everyWorkersReadingTruesUpTheOneBucket() throws {
        var state = SharedPacingState()
        // Worker A: prompt 1,000 + max_tokens 300, charged 1,300; the service counts 1.25 × 1,000 + 300.
        let a = Self.request(prompt: 1_000, fixed: 300)
        let first = try Self.granted(state.take(a, now: 1))
        // Worker B: 800 + 300 charged 1,100; the service counts 1,000 + 300.
        let b = Self.request(prompt: 800, fixed: 300)
        let second = try Self.granted(state.take(b, now: 1.3))
        var before = state.tokens
        // A's reading opens the minute (what came before it is not known): nothing owed.
        state.settle(Self.outcome(a, at: first, remaining: 300_000 - 1_550), now: 1.3)
        #expect(state.tokens == before)
        // Another client's 500 tokens arrived before B's request: B's reading shows 1,800 gone, of
        // which the bucket charged 1,100.
        before = state.tokens
        state.settle(Self.outcome(b, at: second, remaining: 298_450 - 500 - 1_300), now: 1.3)
        #expect(abs((before - state.tokens) - 700) < 1e-9, "\(before - state.tokens)")
        // A late answer of a request admitted before B's: its value was counted already.
        before = state.tokens
        state.settle(Self.outcome(a, at: first, remaining: 298_450), now: 1.3)
        #expect(state.tokens == before)
        // The next minute: the counter is back at its limit, less this request's 1,000 + 300.
        let c = Self.request(prompt: 800, fixed: 300)
        let third = try Self.granted(state.take(c, now: 62))
        before = state.tokens
        state.settle(Self.outcome(c, at: third, remaining: 300_000 - 1_300), now: 62)
        #expect(abs((before - state.tokens) - 200) < 1e-9, "\(before - state.tokens)")
    }

    @Test(arguments: [0.8, 1.25]) func theRatioIsLearnedFromAllWorkersReadingsTogether(skew: Double) throws {
        var state = SharedPacingState()
        var remaining = 300_000.0
        var now = 0.0
        // Two workers take turns; each request arrives in the order it was admitted.
        for index in 0..<40 {
            let prompt = Double(600 + (index * 37) % 400)
            let request = Self.request(prompt: prompt, fixed: 300, predicted: state.ratio * prompt + 300)
            now += 0.3
            let position = try Self.granted(state.take(request, now: now))
            remaining -= (skew * prompt).rounded() + 300
            state.settle(Self.outcome(request, at: position, remaining: Int(remaining)), now: now)
        }
        #expect(abs(state.ratio - skew) < 0.01, "learned \(state.ratio)")
    }

    @Test(arguments: QueueBackend.available) func aSharedValueIsUpdatedByOneWorkerAtATime(_ backend: QueueBackend)
        async throws
    {
        let fixture = try await backend.fixture()
        // A second connection to the same database, as another worker has.
        let other: any JobQueue
        switch backend {
        case .sqlite: other = try SQLiteJobQueue(path: fixture.directory.file("queue.db"))
        case .postgres:
            other = try await PostgresJobQueue(location: try #require((fixture.queue as? PostgresJobQueue)?.location))
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for queue in [fixture.queue, other] {
                group.addTask {
                    for _ in 0..<40 {
                        try await queue.updateRunState(key: "counter") { value, _ in
                            let count = value.flatMap { Int(String(decoding: $0, as: UTF8.self)) } ?? 0
                            value = Data(String(count + 1).utf8)
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let stored = try #require(try await fixture.queue.runState(key: "counter"))
        #expect(String(decoding: stored.value, as: UTF8.self) == "80")
        // The clock is the database's: now, in seconds since 1970, the same for both connections.
        let now = try await other.updateRunState(key: "counter") { _, now in now }
        #expect(abs(now - Date().timeIntervalSince1970) < 5)
        if let postgres = other as? PostgresJobQueue { await postgres.close() }
        await fixture.close()
    }
}

/// Which shared state a worker's deployment uses.
@Suite struct QueuePacingStoreTests {
    @Test func workersFindOneDeploymentByWhatTheyCallNotByTheirNameForIt() {
        func deployment(_ name: String, _ endpoint: String, _ target: String = "gpt4o") -> Deployment {
            Deployment(
                name: name, endpoint: endpoint, api: .azure(apiVersion: "2024-10-21"), deployment: target,
                authentication: .apiKey("k"))
        }
        let first = QueuePacingStore.key(deployment("eu", "https://Contoso.openai.azure.com/"))
        let second = QueuePacingStore.key(deployment("primary", "https://contoso.openai.azure.com/"))
        #expect(first == second)
        #expect(first != QueuePacingStore.key(deployment("eu", "https://contoso.openai.azure.com/", "gpt4o-mini")))
        #expect(first != QueuePacingStore.key(deployment("eu", "https://fabrikam.openai.azure.com/")))
        // Nothing of a query string or user info reaches the database.
        let secret = QueuePacingStore.key(deployment("eu", "https://user:hunter2@contoso.openai.azure.com/?sig=abc"))
        #expect(!secret.contains("hunter2") && !secret.contains("sig") && !secret.contains("user"), "\(secret)")
    }
}
