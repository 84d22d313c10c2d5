import Foundation
import SluiceCore
import Synchronization

/// Wakes the workers of a stage when a commit in this process makes jobs of that stage ready, so an
/// idle worker waits instead of polling.
///
/// Each stage has a generation that every such commit advances. A worker notes the generation before
/// it claims; when the claim comes back empty it waits for a later generation, the earliest retry
/// time this process knows of for the stage, or a fallback interval (jobs written by another process
/// on the same database cannot be heard, only found), whichever comes first.
public final class WorkSignals: Sendable {
    private struct Waiter {
        let stage: Stage?
        let continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var generations: [Stage: UInt64] = [:]
        /// Any stage's commit: what the run's monitor waits on.
        var anyGeneration: UInt64 = 0
        /// Times (seconds since 1970) at which failed jobs of a stage become ready again.
        var retries: [Stage: [Double]] = [:]
        var waiters: [Int: Waiter] = [:]
        var nextWaiter = 0
    }

    private let state = Mutex(State())

    /// No stage notified yet.
    public init() {}

    /// The stage's current generation (any stage's, for nil).
    public func generation(_ stage: Stage?) -> UInt64 {
        state.withLock { state in stage.map { state.generations[$0, default: 0] } ?? state.anyGeneration }
    }

    /// Jobs of these stages became ready (or were released); jobs retried after a delay become ready
    /// at `retryAt`.
    public func notify(_ stages: some Sequence<Stage>, retryAt: [Stage: Double] = [:]) {
        let woken: [CheckedContinuation<Void, Never>] = state.withLock { state in
            let stages = Set(stages)
            for (stage, time) in retryAt { state.retries[stage, default: []].append(time) }
            guard !stages.isEmpty || !retryAt.isEmpty else { return [] }
            // A stage with a new retry time counts as notified: its waiters' deadline may come sooner.
            let woken = stages.union(retryAt.keys)
            for stage in woken { state.generations[stage, default: 0] += 1 }
            state.anyGeneration += 1
            var continuations: [CheckedContinuation<Void, Never>] = []
            for (id, waiter) in state.waiters where waiter.stage.map(woken.contains) ?? true {
                continuations.append(waiter.continuation)
                state.waiters[id] = nil
            }
            return continuations
        }
        for continuation in woken { continuation.resume() }
    }

    /// Every stage (a reclaim, or jobs released without knowing their stages).
    public func notifyAll() { notify(Stage.allCases) }

    /// Wakes only what waits for any commit (the run's monitor: the run is to stop).
    public func notifyWatchers() {
        let woken: [CheckedContinuation<Void, Never>] = state.withLock { state in
            state.anyGeneration += 1
            let watchers = state.waiters.filter { $0.value.stage == nil }
            for id in watchers.keys { state.waiters[id] = nil }
            return watchers.values.map(\.continuation)
        }
        for continuation in woken { continuation.resume() }
    }

    /// Waits until the stage's generation passes `generation`, until its earliest known retry after
    /// `claimedAt` is due, or `fallback` passes; returns at once when the task is cancelled.
    ///
    /// - Parameters:
    ///   - stage: The stage; nil waits for a commit of any stage.
    ///   - generation: What ``generation(_:)`` said before the claim that found nothing.
    ///   - claimedAt: When that claim looked (seconds since 1970): retries due by then were seen.
    ///   - fallback: The longest wait: how soon work written by other processes is found.
    ///   - clock: The clock `claimedAt` and the retry times are read on.
    public func wait(
        for stage: Stage?, after generation: UInt64, claimedAt: Double, fallback: Duration,
        clock: any RunClock = SystemRunClock()
    ) async {
        var limit = claimedAt + fallback.seconds
        if let stage, let due = nextRetry(stage, after: claimedAt) { limit = min(limit, due) }
        let deadline = limit
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await clock.sleep(until: deadline) }
            group.addTask { await self.park(stage, after: generation) }
            await group.next()
            group.cancelAll()
        }
    }

    /// The earliest retry of the stage due after `time`; retries due by then are forgotten.
    private func nextRetry(_ stage: Stage, after time: Double) -> Double? {
        state.withLock { state in
            guard var times = state.retries[stage] else { return nil }
            times.removeAll { $0 <= time }
            state.retries[stage] = times.isEmpty ? nil : times
            return times.min()
        }
    }

    /// Suspends until a notification of the stage after `generation`, or cancellation.
    private func park(_ stage: Stage?, after generation: UInt64) async {
        let id = state.withLock { state in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state in
                    let current = stage.map { state.generations[$0, default: 0] } ?? state.anyGeneration
                    // Notified since the caller looked, or cancelled before it parked.
                    if current != generation || Task.isCancelled { return true }
                    state.waiters[id] = Waiter(stage: stage, continuation: continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.continuation.resume()
        }
    }
}
