import Foundation
import Queue
import Synchronization

/// `--max-cost`: admits a call only while the recorded spend, the most the calls in flight can cost
/// and the most this call can cost stay within the limit.
///
/// On one process the budget is kept here. On a queue shared by many workers it is kept in the queue
/// (``JobQueue/reserveBudget(jobID:owner:amount:limit:)``): one budget for all of them, each call's
/// maximum reserved there before it is sent.
public final class Budget: Sendable {
    /// `--max-cost`, in dollars.
    public let limit: Double
    private let state: Mutex<(spent: Double, reserved: Double)>
    /// The queue that keeps a shared budget.
    private let shared: (any JobQueue)?

    /// A budget of `limit` currency units kept by this process, nothing spent yet.
    public init(limit: Double) {
        self.limit = limit
        state = Mutex((0, 0))
        shared = nil
    }

    /// A budget of `limit` shared by every worker on `queue`.
    public init(limit: Double, sharedIn queue: any JobQueue) {
        self.limit = limit
        state = Mutex((0, 0))
        shared = queue
    }

    /// Sets what was spent before this run (the queue's spend record; a shared budget reads it itself).
    public func start(spent: Double) { state.withLock { $0.spent = spent } }

    /// Reserves a call's maximum cost; false (nothing reserved) when it could exceed the limit.
    ///
    /// - Parameters:
    ///   - jobID: The call's job, whose end drops a shared reservation.
    ///   - owner: The worker holding the job.
    public func reserve(_ amount: Double, jobID: Int64, owner: String) async throws -> Bool {
        if let shared {
            return try await shared.reserveBudget(jobID: jobID, owner: owner, amount: amount, limit: limit)
        }
        return state.withLock { state in
            guard state.spent + state.reserved + amount <= limit else { return false }
            state.reserved += amount
            return true
        }
    }

    /// Replaces a reservation by what the call cost.
    public func settle(reserved: Double, spent: Double, jobID: Int64) async throws {
        if let shared {
            try await shared.settleBudget(jobID: jobID, cost: spent)
            return
        }
        state.withLock { state in
            state.reserved = max(0, state.reserved - reserved)
            state.spent += spent
        }
    }

    /// What the settled calls cost so far (this process's view).
    public var spent: Double { state.withLock { $0.spent } }

    /// Why a call of at most `amount` was refused.
    public func refusal(_ amount: Double) async -> String {
        var (spent, reserved) = state.withLock { ($0.spent, $0.reserved) }
        if let shared, let use = try? await shared.budgetUse() { (spent, reserved) = use }
        return String(
            format:
                "budget: $%.4f spent and up to $%.4f in flight; the next call could cost up to $%.4f, which would pass --max-cost $%.2f (raise it and run again to go on)",
            spent, reserved, amount, limit)
    }
}
