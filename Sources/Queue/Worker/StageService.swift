import Foundation
import ServiceLifecycle
import SluiceCore
import Synchronization

/// Runs one stage's worker as a service: claims its jobs, keeps a sliding window of them in flight
/// and commits their outcomes in batches.
///
/// Each finished job frees its slot for the next at once (one slow document holds one slot, never a
/// batch). Jobs are claimed in batches into a local backlog; outcomes are committed when a batch is
/// full, when the oldest has waited `commitInterval`, and when the window empties. An idle service
/// waits on the queue's ``WorkSignals`` (and a fallback interval for other processes' jobs), not on
/// a timer.
///
/// On graceful shutdown it stops claiming, gives back the backlog, then either cancels the jobs in
/// flight (their workers release them) or lets them finish for a grace period first, and commits
/// everything that finished.
public struct StageService<Worker: StageWorker>: Service {
    private let worker: Worker
    private let queue: any JobQueue
    private let owner: String
    private let configuration: StageConfiguration

    /// - Parameters:
    ///   - worker: What the stage does with one job.
    ///   - owner: The lease owner this process claims as.
    public init(worker: Worker, queue: any JobQueue, owner: String, configuration: StageConfiguration) {
        self.worker = worker
        self.queue = queue
        self.owner = owner
        self.configuration = configuration
    }

    private enum Event: Sendable {
        case finished(JobOutcome)
        case commitDue
        case work
        case graceOver
        /// Graceful shutdown began (the loop sees the flag).
        case shutdown
    }

    public func run() async throws {
        let stopping = ShutdownFlag()
        // Ends when graceful shutdown begins: wakes the window whatever it waits for.
        let (shutdown, trigger) = AsyncStream.makeStream(of: Void.self)
        try await withGracefulShutdownHandler {
            try await window(stopping: stopping, shutdown: shutdown)
        } onGracefulShutdown: {
            stopping.set()
            trigger.finish()
        }
    }

    private func window(stopping flag: ShutdownFlag, shutdown: AsyncStream<Void>) async throws {
        let (stage, signals) = (worker.stage, queue.signals)
        try await withThrowingTaskGroup(of: Event.self) { group in
            group.addTask {
                for await _ in shutdown {}
                return .shutdown
            }
            var backlog: [Job] = []
            var next = 0
            var inFlight = 0
            var outcomes: [JobOutcome] = []
            var commitScheduled = false
            var waiting = false
            var shuttingDown = false
            var cancelled = false
            func commit() async throws {
                guard !outcomes.isEmpty else { return }
                try await queue.commit(
                    outcomes, owner: owner, now: configuration.clock.now, workerTimeout: configuration.workerTimeout)
                outcomes.removeAll(keepingCapacity: true)
            }
            while true {
                let stopping = flag.isSet || Task.isCancelled
                if stopping && !shuttingDown {
                    shuttingDown = true
                    // Claimed but not started: back to the queue at once.
                    try await queue.release(jobIDs: backlog[next...].map(\.id), owner: owner)
                    (backlog, next) = ([], 0)
                    switch configuration.shutdown {
                    case .cancel:
                        group.cancelAll()
                        cancelled = true
                    case .finish(let grace):
                        group.addTask {
                            try? await Task.sleep(for: grace)
                            return .graceOver
                        }
                    }
                } else if !stopping && next == backlog.count && inFlight < configuration.width && !waiting {
                    let generation = signals.generation(stage)
                    let now = configuration.clock.now
                    backlog = try await queue.claim(
                        stage: stage, limit: max(configuration.batchSize, configuration.width - inFlight),
                        owner: owner, leaseSeconds: configuration.leaseSeconds, now: now)
                    next = 0
                    if backlog.isEmpty {
                        waiting = true
                        let (fallback, clock) = (configuration.fallbackInterval, configuration.clock)
                        group.addTask {
                            await signals.wait(
                                for: stage, after: generation, claimedAt: now, fallback: fallback, clock: clock)
                            return .work
                        }
                    }
                }
                while inFlight < configuration.width, next < backlog.count {
                    let job = backlog[next]
                    next += 1
                    inFlight += 1
                    group.addTask { .finished(await worker.process(job)) }
                }
                if stopping && inFlight == 0 { break }
                // Not once cancelled: a cancelled sleep returns at once and would spin.
                if !outcomes.isEmpty && !commitScheduled && !cancelled && !Task.isCancelled {
                    commitScheduled = true
                    let interval = configuration.commitInterval
                    group.addTask {
                        try? await Task.sleep(for: interval)
                        return .commitDue
                    }
                }
                guard let event = try await group.next() else { break }
                switch event {
                case .finished(let outcome):
                    outcomes.append(outcome)
                    inFlight -= 1
                    if outcomes.count >= configuration.batchSize || (inFlight == 0 && next == backlog.count) {
                        try await commit()
                    }
                case .commitDue:
                    commitScheduled = false
                    try await commit()
                case .work:
                    waiting = false
                case .graceOver:
                    group.cancelAll()
                    cancelled = true
                case .shutdown:
                    break
                }
            }
            try await commit()
            group.cancelAll()
        }
    }
}

/// How a stage service works its queue.
public struct StageConfiguration: Sendable {
    /// What graceful shutdown does with the jobs in flight.
    public enum Shutdown: Sendable {
        /// Cancel them now (work that is cheap to redo: reading, chunking, rendering).
        case cancel
        /// Let them finish for up to this long, then cancel (calls, which are paid for once sent).
        case finish(grace: Duration)
    }

    /// Jobs in flight at once.
    public var width: Int
    /// Jobs claimed at once, and outcomes committed at once.
    public var batchSize: Int
    /// How long a claimed job stays leased without being finished.
    public var leaseSeconds: Double
    /// The longest a finished job's outcome waits for its commit.
    public var commitInterval: Duration = .milliseconds(10)
    /// The longest an idle service waits before it looks again (work from other processes).
    public var fallbackInterval: Duration = .seconds(1)
    /// What graceful shutdown does with jobs in flight (default: cancel them and release them).
    public var shutdown: Shutdown = .cancel
    /// The time leases and retries go by.
    public var clock: any RunClock = SystemRunClock()
    /// A worker whose heartbeat is older counts as gone (jobs passed on do not wait for its host).
    public var workerTimeout = 30.0

    /// - Parameters:
    ///   - width: Jobs in flight at most (at least 1).
    ///   - batchSize: Jobs claimed, and outcomes committed, at once.
    ///   - leaseSeconds: How long a claim holds its jobs.
    public init(width: Int, batchSize: Int, leaseSeconds: Double) {
        self.width = max(1, width)
        self.batchSize = max(1, batchSize)
        self.leaseSeconds = leaseSeconds
    }
}
