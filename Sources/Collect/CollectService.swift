import Foundation
import Queue
import ServiceLifecycle
import SluiceCore

/// The collect stage as a service: appends the result lines of committed calls to the run's JSONL
/// file in batches, and commits the file's length with the jobs whose lines it now holds.
///
/// On graceful shutdown (the other stages have stopped by then) it writes every line that is ready
/// and returns.
package struct CollectService: Service {
    private let queue: any JobQueue
    private let owner: String
    private let output: OutputFile?
    private let counters: RunCounters
    private let leaseSeconds: Double
    private let fallbackInterval: Duration
    private let clock: any RunClock
    /// Jobs claimed, and lines written, at once.
    static let batchSize = 512

    /// - Parameters:
    ///   - output: The run's output file, cut back to what the queue committed; nil on a shared queue,
    ///     where the lines stay in the queue for `sluice export`.
    ///   - counters: Where lines written are counted.
    ///   - fallbackInterval: The longest an idle collector waits before it looks again.
    package init(
        queue: any JobQueue, owner: String, output: OutputFile?, counters: RunCounters, leaseSeconds: Double,
        fallbackInterval: Duration = .seconds(1), clock: any RunClock = SystemRunClock()
    ) {
        self.clock = clock
        self.queue = queue
        self.owner = owner
        self.output = output
        self.counters = counters
        self.leaseSeconds = leaseSeconds
        self.fallbackInterval = fallbackInterval
    }

    package func run() async throws {
        let stopping = ShutdownFlag()
        let signals = queue.signals
        try await withGracefulShutdownHandler {
            while !Task.isCancelled {
                let generation = signals.generation(.collect)
                let now = clock.now
                if try await collect(now: now) { continue }
                if stopping.isSet { return }
                await signals.wait(
                    for: .collect, after: generation, claimedAt: now, fallback: fallbackInterval, clock: clock)
            }
        } onGracefulShutdown: {
            stopping.set()
            signals.notify([.collect])
        }
    }

    /// Writes one batch of ready lines; false when there were none.
    private func collect(now: Double) async throws -> Bool {
        let jobs = try await queue.claim(
            stage: .collect, limit: Self.batchSize, owner: owner, leaseSeconds: leaseSeconds, now: now)
        guard !jobs.isEmpty else { return false }
        let (bytes, written, failures) = try await ResultLines.lines(of: jobs, queue: queue)
        if let output {
            try await output.append(bytes)
            try await queue.commitCollected(
                jobIDs: written, owner: owner, path: output.path, length: output.length, now: clock.now)
        } else {
            // The line is checked (it can be made), and committed where it is: the done job keeps it.
            try await queue.complete(written.map { JobCompletion(jobID: $0, next: []) }, owner: owner, now: clock.now)
        }
        try await queue.fail(failures, owner: owner, now: clock.now)
        counters.update { $0.linesWritten += written.count }
        return true
    }
}
