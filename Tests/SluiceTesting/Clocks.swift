import Scheduler
import SluiceCore
import Synchronization

/// Scheduler time that moves only by sleeping: a sleep advances the clock at once, so minutes of
/// pacing run in milliseconds.
public final class VirtualClock: SchedulerClock {
    private let time = Mutex(0.0)
    public var now: Double { time.withLock { $0 } }
    public let speedUp = 1.0

    public init() {}

    public func sleep(seconds: Double) async throws { time.withLock { $0 += max(seconds, 0) } }
    public func advance(_ seconds: Double) { time.withLock { $0 += seconds } }
}

/// A run clock the test moves: sleepers wake when ``advance(_:)`` takes the time past their deadline
/// (or when their task is cancelled), never on their own.
public final class ManualRunClock: RunClock {
    private struct State {
        var now: Double
        var sleepers: [Int: (deadline: Double, continuation: CheckedContinuation<Void, any Error>)] = [:]
        var next = 0
    }

    private let state: Mutex<State>

    public init(now: Double = 1_000_000) { state = Mutex(State(now: now)) }

    public var now: Double { state.withLock { $0.now } }

    /// How many sleepers wait for a later time.
    public var sleeping: Int { state.withLock { $0.sleepers.count } }

    public func advance(_ seconds: Double) {
        let woken = state.withLock { state in
            state.now += seconds
            let due = state.sleepers.filter { $0.value.deadline <= state.now }
            for id in due.keys { state.sleepers[id] = nil }
            return due.values.map(\.continuation)
        }
        for continuation in woken { continuation.resume() }
    }

    public func sleep(until deadline: Double) async throws {
        let id = state.withLock { state in
            state.next += 1
            return state.next
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let now = state.withLock { state in
                    if deadline > state.now && !Task.isCancelled {
                        state.sleepers[id] = (deadline, continuation)
                        return false
                    }
                    return true
                }
                if now { Task.isCancelled ? continuation.resume(throwing: CancellationError()) : continuation.resume() }
            }
        } onCancel: {
            let sleeper = state.withLock { $0.sleepers.removeValue(forKey: id) }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }
}
