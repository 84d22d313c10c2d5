import SluiceCore
import Synchronization

/// The runs of the queue a stage worker knows, each with the tools the stage makes from its pipeline
/// (a chunker, a renderer, a schema). A job of a run enqueued after this one started (`sluice
/// enqueue` while it works) loads that run from the queue on first sight.
public final class RunContexts<Context: Sendable>: Sendable {
    private let queue: any JobQueue
    private let make: @Sendable (RunRecord) throws -> Context
    private let known = Mutex<[Int64: Context]>([:])
    /// Runs whose pipeline cannot be used here, with the reason.
    private let unusable = Mutex<[Int64: String]>([:])

    /// - Parameter make: The stage's tools for a run; an error makes the run's jobs fail with it.
    public init(queue: any JobQueue, make: @escaping @Sendable (RunRecord) throws -> Context) {
        self.queue = queue
        self.make = make
    }

    /// The context of a run, loading runs new to this process when it is not known yet.
    public func context(_ runID: Int64) async throws -> Context? {
        if let context = cached(runID) { return context }
        // Known to be unusable: not looked up again for each of its jobs.
        if unusable.withLock({ $0[runID] != nil }) { return nil }
        try await load()
        return cached(runID)
    }

    /// The context of a run if already loaded.
    public func cached(_ runID: Int64) -> Context? { known.withLock { $0[runID] } }

    /// Why a run's jobs cannot be worked: its pipeline cannot be used, or no such run.
    public func problem(_ runID: Int64) -> String {
        unusable.withLock { $0[runID] }.map { "run \(runID): \($0)" } ?? "unknown run \(runID)"
    }

    /// Loads the runs not known yet (one whose pipeline cannot be used is noted, not thrown: its jobs
    /// fail with the reason, and the other runs go on).
    public func load() async throws {
        let noted = unusable.withLock { Set($0.keys) }
        for run in try await queue.runs() where cached(run.id) == nil && !noted.contains(run.id) {
            do {
                let context = try make(run)
                known.withLock { $0[run.id] = context }
            } catch {
                unusable.withLock { $0[run.id] = "its pipeline \(run.pipeline.name) cannot be used: \(error)" }
            }
        }
    }

    /// The context of a job's run; when there is none, what becomes of the job instead: released when
    /// the queue could not be read (it waits for the next claim), failed when its run cannot be worked.
    public func context(of job: Job) async -> Result<Context, Unworkable> {
        do {
            if let context = try await context(job.runID) { return .success(context) }
        } catch {
            return .failure(Unworkable(outcome: .released(job.id)))
        }
        return .failure(Unworkable(outcome: .invalid(job, "job \(job.id): \(problem(job.runID))")))
    }
}

/// An outcome given instead of working a job (its run has no context), as an error for `Result`.
public struct Unworkable: Error {
    /// What becomes of the job.
    public let outcome: JobOutcome
}
