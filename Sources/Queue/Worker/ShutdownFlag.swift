import Synchronization

/// Set once, when graceful shutdown begins: what a service's loop checks between jobs.
public final class ShutdownFlag: Sendable {
    private let flag = Atomic<Bool>(false)

    /// Not set.
    public init() {}

    /// Marks shutdown as begun.
    public func set() { flag.store(true, ordering: .relaxed) }

    /// Whether shutdown has begun.
    public var isSet: Bool { flag.load(ordering: .relaxed) }
}
