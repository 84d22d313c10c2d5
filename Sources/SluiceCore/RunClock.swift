import Foundation

/// The time a run's leases, retries and monitor go by, in seconds since 1970 (the queue stores such
/// times, so other processes read them alike). Runs use ``SystemRunClock``; tests inject a clock they
/// move themselves.
public protocol RunClock: Sendable {
    /// Seconds since 1970.
    var now: Double { get }
    /// Returns once ``now`` has reached `deadline`; throws when the task is cancelled first.
    func sleep(until deadline: Double) async throws
}

extension RunClock {
    /// Returns after `duration` of this clock's time.
    public func sleep(for duration: Duration) async throws {
        try await sleep(until: now + duration.seconds)
    }
}

/// The system's wall clock.
public struct SystemRunClock: RunClock {
    /// The system clock.
    public init() {}

    public var now: Double { Date().timeIntervalSince1970 }

    public func sleep(until deadline: Double) async throws {
        let wait = deadline - now
        guard wait > 0 else { return }
        try await Task.sleep(for: .nanoseconds(Int64(min(wait, 86_400) * 1e9)))
    }
}

extension Duration {
    /// The duration in seconds.
    public var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
