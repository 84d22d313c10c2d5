import Foundation
import Queue
import ServiceLifecycle
import SluiceCore
import SluiceTesting
import Synchronization
import Testing

private final class StartCounter: Sendable {
    let value = Atomic<Int>(0)
}

/// A stage worker whose jobs finish when the test says: key "slow" waits for the gate (or for
/// cancellation, when it gives the job back), every other key finishes at once.
private struct GatedWorker: StageWorker {
    var stage: Stage { .prompt }
    let gate: AsyncStream<Void>
    let counter = StartCounter()
    var started: Int { counter.value.load(ordering: .relaxed) }

    func process(_ job: Job) async -> JobOutcome {
        counter.value.add(1, ordering: .relaxed)
        if job.key == "slow" {
            for await _ in gate { break }
            if Task.isCancelled { return .released(job.id) }
        }
        return .completed(JobCompletion(jobID: job.id, next: []))
    }
}

/// Fails each job once with a retry five minutes later on the run clock, then completes it.
private struct RetryingWorker: StageWorker {
    var stage: Stage { .prompt }
    let clock: ManualRunClock
    let failed = StartCounter()

    func process(_ job: Job) async -> JobOutcome {
        if job.attempts == 0 {
            failed.value.add(1, ordering: .relaxed)
            return .failed(
                JobFailure(jobID: job.id, errorClass: .serverError, message: "try later", retryAt: clock.now + 300))
        }
        return .completed(JobCompletion(jobID: job.id, next: []))
    }
}

@Suite struct StageServiceTests {
    let fixture: QueueFixture
    var queue: SQLiteJobQueue { fixture.queue }
    var run: RunRecord { fixture.run }

    init() async throws { fixture = try await QueueFixture() }

    func enqueue(_ keys: [String]) async throws {
        try await queue.enqueue(keys.map { NewJob(runID: run.id, stage: .prompt, key: $0, payload: Data("{}".utf8)) })
    }

    /// Waits (up to 10 s of real time, in 10 ms steps) until `condition` holds.
    func eventually(_ condition: () async throws -> Bool) async throws -> Bool {
        for _ in 0..<1_000 {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(10))
        }
        return false
    }

    func count(_ state: JobState) async throws -> Int { try await queue.statistics().count(.prompt, state) }

    func configuration(width: Int) -> StageConfiguration {
        var configuration = StageConfiguration(width: width, batchSize: 64, leaseSeconds: 600)
        // Far longer than any wait below: what happens is woken by the queue, not found by a timer.
        configuration.fallbackInterval = .seconds(600)
        return configuration
    }

    @Test func aSlowJobHoldsOneSlotAndTheOthersAreCommittedMeanwhile() async throws {
        let (gate, open) = AsyncStream.makeStream(of: Void.self)
        try await enqueue(["slow"] + (0..<30).map { "fast\($0)" })
        let service = StageService(
            worker: GatedWorker(gate: gate), queue: queue, owner: "me", configuration: configuration(width: 2))
        let group = ServiceGroup(services: [service], logger: .init(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            // All 30 fast jobs pass through the other slot and are committed while the slow one works.
            #expect(try await eventually { try await count(.done) == 30 })
            #expect(try await count(.leased) == 1)
            open.yield()
            #expect(try await eventually { try await count(.done) == 31 })
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    @Test func gracefulShutdownGivesBackTheBacklogAndTheJobInFlight() async throws {
        let (gate, open) = AsyncStream.makeStream(of: Void.self)
        defer { open.finish() }
        try await enqueue(["slow"] + (0..<5).map { "later\($0)" })
        let worker = GatedWorker(gate: gate)
        let service = StageService(worker: worker, queue: queue, owner: "me", configuration: configuration(width: 1))
        let group = ServiceGroup(services: [service], logger: .init(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            // The slow job (oldest) is in flight, the rest claimed into the backlog behind it.
            let claimed = try await eventually {
                let leased = try await count(.leased)
                return leased == 6 && worker.started == 1
            }
            #expect(claimed)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        let (ready, leased, done) = (try await count(.ready), try await count(.leased), try await count(.done))
        #expect(ready == 6 && leased == 0 && done == 0)
        #expect(worker.started == 1)
    }

    @Test func jobsEnqueuedInThisProcessWakeAnIdleStageAtOnce() async throws {
        let (gate, open) = AsyncStream.makeStream(of: Void.self)
        defer { open.finish() }
        let service = StageService(
            worker: GatedWorker(gate: gate), queue: queue, owner: "me", configuration: configuration(width: 2))
        let group = ServiceGroup(services: [service], logger: .init(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            // Let it find the queue empty and wait (a 600 s fallback), then give it work.
            try await Task.sleep(for: .milliseconds(100))
            try await enqueue((0..<3).map { "new\($0)" })
            #expect(try await eventually { try await count(.done) == 3 })
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    @Test func aRetryIsClaimedWhenTheRunClockSaysItIsDueNotBefore() async throws {
        let clock = ManualRunClock()
        var configuration = configuration(width: 2)
        configuration.clock = clock
        try await enqueue(["a", "b"])
        let worker = RetryingWorker(clock: clock)
        let service = StageService(worker: worker, queue: queue, owner: "me", configuration: configuration)
        let group = ServiceGroup(services: [service], logger: .init(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let failedOnce = try await eventually {
                let (ready, done) = (try await count(.ready), try await count(.done))
                return worker.failed.value.load(ordering: .relaxed) == 2 && ready == 2 && done == 0
            }
            #expect(failedOnce)
            // 299 s of run time: not yet due; the stage sleeps on the clock until the retries are.
            clock.advance(299)
            #expect(try await eventually { clock.sleeping > 0 })
            #expect(try await count(.done) == 0)
            clock.advance(2)
            #expect(try await eventually { try await count(.done) == 2 })
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }
}
