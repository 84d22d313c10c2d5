import Synchronization

/// A counting semaphore for tasks.
final class AsyncSemaphore: Sendable {
    private struct State {
        var value: Int
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state: Mutex<State>

    init(value: Int) { state = Mutex(State(value: value)) }

    func wait() async throws {
        let acquired = state.withLock { state -> Bool in
            if state.value > 0 {
                state.value -= 1
                return true
            }
            return false
        }
        if acquired { return }
        await withCheckedContinuation { continuation in
            let resumeNow = state.withLock { state -> Bool in
                if state.value > 0 {
                    state.value -= 1
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
        try Task.checkCancellation()
    }

    func signal() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.waiters.isEmpty {
                state.value += 1
                return nil
            }
            return state.waiters.removeFirst()
        }
        waiter?.resume()
    }
}
