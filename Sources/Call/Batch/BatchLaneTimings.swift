import Synchronization

/// Where the batch lane spends its time, by phase (wall time summed over batches): for the batch
/// benchmark and for anyone tuning a deployment's batches.
public final class BatchLaneTimings: Sendable {
    /// A phase of the lane's own work.
    public enum Phase: String, Sendable, CaseIterable, Codable {
        /// Choosing lines, building input files, recording batches (their jobs held).
        case pack
        /// Building an input file again (after a restart) and uploading it.
        case upload
        /// Reading output and error files.
        case download
        /// Binding lines to their calls and classifying them (results, retries, failures).
        case reconcile
        /// Committing lines' outcomes and successors in the queue.
        case commit
    }

    private let totals = Mutex<[Phase: Duration]>([:])

    /// No time yet.
    public init() {}

    /// Adds the time since `start` to a phase.
    func add(_ phase: Phase, since start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        totals.withLock { $0[phase, default: .zero] += elapsed }
    }

    /// Seconds per phase so far.
    public var seconds: [Phase: Double] {
        totals.withLock { totals in
            totals.mapValues { Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18 }
        }
    }
}
