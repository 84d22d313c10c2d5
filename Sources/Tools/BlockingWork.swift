import NIOCore
import NIOPosix
import SluiceCore
import Synchronization

/// Blocking system calls — reading a document, listing a folder, `fdatasync` — run on threads of
/// their own, never on Swift's cooperative pool, each with a deadline.
///
/// A call that is still blocked at its deadline (a hung network mount, a stalled disk) is left to
/// finish on its thread; the caller gets ``TimedOut`` at once and goes on. Cancelling the caller's
/// task likewise returns at once with `CancellationError`.
///
/// The threads are POSIX threads of their own (NIO's thread pool), not Dispatch's workers, which on
/// Linux also carry the cooperative pool: a blocked Dispatch worker would hold up async tasks until
/// Dispatch noticed and added threads.
package enum BlockingWork {
    /// The threads for blocking calls: more than the cores, since they mostly wait.
    package static let threads: NIOThreadPool = started(threads: max(8, System.coreCount * 2))

    /// A pool of `threads` threads, started (for the life of the process).
    package static func started(threads: Int) -> NIOThreadPool {
        let pool = NIOThreadPool(numberOfThreads: threads)
        pool.start()
        return pool
    }

    /// A blocking call that did not return by its deadline.
    package struct TimedOut: Error, Sendable, CustomStringConvertible {
        /// What was being done (names the file).
        package let what: String
        /// The deadline it missed.
        package let timeout: Duration
        package var description: String { "\(what): no answer from the system within \(timeout.seconds) s" }
    }

    /// Runs `body` on `pool` and waits for it, at most `timeout`.
    ///
    /// - Parameters:
    ///   - what: Names the work in the ``TimedOut`` error (e.g. "reading docs/a.pdf").
    ///   - pool: Where it runs; a pool of one thread keeps calls on one file in order.
    package static func run<T: Sendable>(
        _ what: String, timeout: Duration, on pool: NIOThreadPool = threads,
        _ body: @escaping @Sendable () throws -> T
    ) async throws -> T {
        let waiter = Waiter<T>()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                guard waiter.wait(continuation) else { return }
                pool.submit { state in
                    guard case .active = state else {
                        return waiter.resume(with: .failure(CancellationError()))
                    }
                    waiter.resume(with: Result { try body() })
                }
                // At most ten years: a deadline of any size is safe to add to the clock. The timer runs
                // on an event loop thread, so a busy cooperative pool does not delay it.
                let (seconds, attoseconds) = timeout.components
                let nanoseconds =
                    min(max(0, seconds), 315_360_000) * 1_000_000_000 + max(0, attoseconds) / 1_000_000_000
                let deadline = MultiThreadedEventLoopGroup.singleton.any().scheduleTask(in: .nanoseconds(nanoseconds)) {
                    waiter.resume(with: .failure(TimedOut(what: what, timeout: timeout)))
                }
                waiter.cancelsOnResume(deadline)
            }
        } onCancel: {
            waiter.resume(with: .failure(CancellationError()))
        }
    }

    /// The continuation of one call, resumed by whichever comes first: the result, the deadline, or
    /// cancellation (which may come before the continuation exists).
    private final class Waiter<T: Sendable>: Sendable {
        private enum State {
            case idle
            case waiting(CheckedContinuation<T, any Error>)
            case done
        }

        private let state = Mutex<State>(.idle)
        /// The deadline's timer, cancelled when the call ends first (so none lingers for long deadlines).
        private let timer = Mutex<Scheduled<Void>?>(nil)

        func cancelsOnResume(_ deadline: Scheduled<Void>) {
            timer.withLock { $0 = deadline }
            if state.withLock({ if case .done = $0 { true } else { false } }) { deadline.cancel() }
        }

        /// Keeps the continuation; false (and resumed with cancellation) when the task was cancelled first.
        func wait(_ continuation: CheckedContinuation<T, any Error>) -> Bool {
            let cancelled = state.withLock { state -> Bool in
                if case .done = state { return true }
                state = .waiting(continuation)
                return false
            }
            if cancelled { continuation.resume(throwing: CancellationError()) }
            return !cancelled
        }

        func resume(with result: Result<T, any Error>) {
            let continuation = state.withLock { state -> CheckedContinuation<T, any Error>? in
                defer { state = .done }
                if case .waiting(let continuation) = state { return continuation }
                return nil
            }
            timer.withLock { $0 }?.cancel()
            continuation?.resume(with: result)
        }
    }
}
