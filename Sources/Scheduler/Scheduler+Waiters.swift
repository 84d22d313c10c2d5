/// The requests waiting for admission: each pool's oldest waiter looks whenever something changes
/// that may admit it (a call of one of its deployments finished or was cancelled, the waiter ahead
/// of it left) or when the earliest time its budget allows comes; the others sleep until they are
/// the oldest. Nothing polls.
extension Scheduler {
    struct Waiter {
        let id: Int
        let pool: Set<String>
        var continuation: CheckedContinuation<Void, Never>?
        /// Woken before it parked: the next park returns at once.
        var woken = false
        var timer: Task<Void, Never>?
    }

    func enter(_ pool: [String]) -> Int {
        nextWaiter += 1
        waiters.append(Waiter(id: nextWaiter, pool: Set(pool)))
        return nextWaiter
    }

    /// Whether the waiter is the oldest of those with its pool.
    func isHead(_ id: Int) -> Bool {
        guard let waiter = waiters.first(where: { $0.id == id }) else { return true }
        return waiters.first { $0.pool == waiter.pool }?.id == id
    }

    /// Removes a waiter (admitted, failed or cancelled); the next of its pool, now the oldest, looks.
    func leave(_ id: Int) {
        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return }
        let waiter = waiters.remove(at: index)
        waiter.timer?.cancel()
        waiter.continuation?.resume()
        if let next = waiters.first(where: { $0.pool == waiter.pool }) { wake(next.id) }
    }

    /// Wakes the oldest waiter of every pool that holds the deployment.
    func wakeHeads(using deployment: String) {
        var seen: [Set<String>] = []
        for waiter in waiters where !seen.contains(waiter.pool) {
            seen.append(waiter.pool)
            if waiter.pool.contains(deployment) { wake(waiter.id) }
        }
    }

    func wake(_ id: Int) {
        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return }
        waiters[index].timer?.cancel()
        waiters[index].timer = nil
        if let continuation = waiters[index].continuation {
            waiters[index].continuation = nil
            continuation.resume()
        } else {
            waiters[index].woken = true
        }
    }

    /// Suspends the waiter until it is woken, `seconds` of scheduler time pass (nil or infinity: no
    /// timer), or its task is cancelled.
    func park(_ id: Int, for seconds: Double?) async {
        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return }
        if waiters[index].woken {
            waiters[index].woken = false
            return
        }
        if let seconds, seconds.isFinite {
            let clock = self.clock
            waiters[index].timer = Task { [weak self] in
                try? await clock.sleep(seconds: max(seconds, 0.000_1))
                guard !Task.isCancelled else { return }
                await self?.wake(id)
            }
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                guard let index = waiters.firstIndex(where: { $0.id == id }), !Task.isCancelled else {
                    continuation.resume()
                    return
                }
                waiters[index].continuation = continuation
            }
        } onCancel: {
            Task { await self.wake(id) }
        }
    }
}
