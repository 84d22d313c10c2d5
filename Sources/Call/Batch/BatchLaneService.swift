import Foundation
import Logging
import Queue
import ServiceLifecycle
import SluiceCore
import Synchronization

/// The batch lane: packs the calls handed over for batch deployments into Batch API input files,
/// uploads them, creates the batches, polls them, and commits their lines when they end, each step
/// recorded in the queue before and after it happens.
///
/// A process killed at any moment loses nothing: its batches are adopted by the next worker, which
/// asks the service for a file or batch of the batch's name when the step's answer was not recorded
/// (instead of uploading or creating again), and its held jobs stay held until their lines are
/// committed. Lines that a batch did not answer (its error file's retryable errors, an expired,
/// failed or cancelled batch) go back to the queue for a later batch; terminal errors fail their call.
///
/// On graceful shutdown it stops packing, gives back the calls not packed, and leaves the batches
/// running on the service (a later `sluice run` collects them).
public struct BatchLaneService: Service {
    /// How the lane works.
    public struct Configuration: Sendable {
        /// Seconds between the lane's looks at its intake and its batches.
        public var tickSeconds = 0.5
        /// Calls offered are packed once no call came for this long (or they fill a file or the quota).
        public var lingerSeconds = 2.0
        /// How long the jobs of a batch being committed stay leased.
        public var leaseSeconds = 600.0
        /// The largest output or error file read (bytes).
        public var maxFileBytes = 1 << 30
        /// Stop once no batch is left to drive (`sluice cancel`).
        public var endsWhenIdle = false
        /// Where the lane's time goes, when someone is measuring (nil: not recorded).
        public var timings: BatchLaneTimings?

        /// The defaults.
        public init() {}
    }

    let lane: BatchLane
    let worker: CallWorker
    let queue: any JobQueue
    let owner: String
    let clients: [String: BatchAPIClient]
    let configuration: Configuration
    let logger: Logger
    let note: @Sendable (String) -> Void
    let memory = Memory()

    /// What the lane keeps in memory only.
    final class Memory: Sendable {
        /// Input files packed by this process, until uploaded (a batch adopted from a stopped
        /// worker is rebuilt from its jobs).
        let contents = Mutex<[Int64: Data]>([:])
        /// When each batch is next due (polling is not recorded).
        let due = Mutex<[Int64: Double]>([:])
    }

    /// - Parameters:
    ///   - clients: The Files and Batches API of each batch deployment, by name.
    ///   - note: Told what the user should know (batches left running at shutdown).
    public init(
        lane: BatchLane, worker: CallWorker, queue: any JobQueue, owner: String, clients: [String: BatchAPIClient],
        configuration: Configuration = Configuration(), logger: Logger = Logger(label: "sluice.batch"),
        note: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.lane = lane
        self.worker = worker
        self.queue = queue
        self.owner = owner
        self.clients = clients
        self.configuration = configuration
        self.logger = logger
        self.note = note
    }

    public func run() async throws {
        let stopping = ShutdownFlag()
        try await withGracefulShutdownHandler {
            while !stopping.isSet && !Task.isCancelled {
                let busy = try await tick()
                if configuration.endsWhenIdle && !busy { break }
                try? await cancelWhenGracefulShutdown {
                    try await Task.sleep(for: .milliseconds(Int64(configuration.tickSeconds * 1000)))
                }
            }
        } onGracefulShutdown: {
            stopping.set()
        }
        let left = await lane.close()
        try await queue.release(jobIDs: left.map(\.job.id), owner: owner)
        let running = try await queue.batches(all: false).filter { $0.owner == owner && $0.step != .done }
        if !running.isEmpty {
            note(
                "\(running.count) batch\(running.count == 1 ? " is" : "es are") left running on the service; `sluice run` again collects \(running.count == 1 ? "it" : "them"), `sluice cancel` cancels \(running.count == 1 ? "it" : "them")"
            )
        }
    }

    /// One look: packs what was offered, then moves each batch this worker drives on by what is due.
    /// Returns whether any batch is left to drive.
    func tick() async throws -> Bool {
        let active = try await queue.batches(all: false)
        var packed = false
        for name in lane.settings.keys {
            let used = active.filter { $0.deployment == name && $0.step.holdsQuota }.reduce(0) { $0 + $1.inputTokens }
            await lane.account(name, inUse: used)
            if let offers = await lane.take(name, linger: configuration.lingerSeconds, maxLines: 100_000) {
                try await pack(offers, deployment: name, inUse: used)
                packed = true
            }
        }
        // Adopting is a write: only when there is a batch to drive (this worker's, or one of no owner).
        let adopt = packed || active.contains { $0.owner == nil || $0.owner == owner }
        let mine = adopt ? try await queue.adoptBatches(owner: owner) : []
        let now = lane.clock.now
        for batch in mine where (memory.due.withLock { $0[batch.id] } ?? 0) <= now && batch.notBefore <= now {
            do {
                try await advance(batch)
            } catch let failure as BatchAPIClient.Failure {
                // The service is out of reach or refused a step: try again at the next step's time.
                logger.warning("batch \(batch.name): \(failure.message)")
                let wait = lane.settings[batch.deployment]?.stepSeconds ?? 5
                memory.due.withLock { $0[batch.id] = now + wait }
            }
        }
        return !mine.isEmpty
    }
}
