import Foundation
import Synchronization

/// `--max-cost`: admits a call only while the recorded spend, the most the calls in flight can cost
/// and the most this call can cost stay within the limit.
public final class Budget: Sendable {
    /// `--max-cost`, in dollars.
    public let limit: Double
    private let state: Mutex<(spent: Double, reserved: Double)>

    /// A budget of `limit` currency units, nothing spent yet.
    public init(limit: Double) {
        self.limit = limit
        state = Mutex((0, 0))
    }

    /// Sets what was spent before this run (the queue's spend record).
    public func start(spent: Double) { state.withLock { $0.spent = spent } }

    /// Reserves a call's maximum cost; false (nothing reserved) when it could exceed the limit.
    public func reserve(_ amount: Double) -> Bool {
        state.withLock { state in
            guard state.spent + state.reserved + amount <= limit else { return false }
            state.reserved += amount
            return true
        }
    }

    /// Replaces a reservation by what the call cost.
    public func settle(reserved: Double, spent: Double) {
        state.withLock { state in
            state.reserved = max(0, state.reserved - reserved)
            state.spent += spent
        }
    }

    /// What the settled calls cost so far.
    public var spent: Double { state.withLock { $0.spent } }

    /// Why a call of at most `amount` was refused.
    public func refusal(_ amount: Double) -> String {
        let (spent, reserved) = state.withLock { ($0.spent, $0.reserved) }
        return String(
            format:
                "budget: $%.4f spent and up to $%.4f in flight; the next call could cost up to $%.4f, which would pass --max-cost $%.2f (raise it and run again to go on)",
            spent, reserved, amount, limit)
    }
}
