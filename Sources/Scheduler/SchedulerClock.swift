/// The scheduler's time, in seconds. Real time for runs; a faster clock for a simulator whose
/// minutes are scaled down (`SimulatorConfiguration.speedUp`), so quota windows line up.
public protocol SchedulerClock: Sendable {
    /// Seconds since some fixed start.
    var now: Double { get }
    /// Scheduler seconds per real second (1 for real time).
    var speedUp: Double { get }
    /// Sleeps for a span of scheduler seconds.
    func sleep(seconds: Double) async throws
}

/// Real time, optionally running `speedUp` times faster.
public struct ScaledClock: SchedulerClock {
    private let start = ContinuousClock.now
    /// How many times faster than the wall clock it runs.
    public let speedUp: Double

    /// A clock `speedUp` times as fast as the wall clock.
    public init(speedUp: Double = 1) { self.speedUp = max(speedUp, 1e-6) }

    public var now: Double {
        let (seconds, attoseconds) = (ContinuousClock.now - start).components
        return (Double(seconds) + Double(attoseconds) / 1e18) * speedUp
    }

    public func sleep(seconds: Double) async throws {
        guard seconds > 0 else { return }
        try await Task.sleep(for: .nanoseconds(Int64(min(seconds / speedUp, 3_600) * 1e9)))
    }
}
