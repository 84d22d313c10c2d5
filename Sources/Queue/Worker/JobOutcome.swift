import Foundation
import SluiceCore

/// What became of one claimed job.
public enum JobOutcome: Sendable {
    /// Done: its successors, parts and results are committed with it.
    case completed(JobCompletion)
    /// Failed, for good or to be retried at a time.
    case failed(JobFailure)
    /// Given back unworked (the run stopped, or the queue could not be read): claimed again later.
    case released(Int64)

    /// A terminal failure of a job that cannot be worked, with the reason.
    public static func invalid(_ job: Job, _ message: String) -> JobOutcome {
        .failed(JobFailure(jobID: job.id, errorClass: .invalidJob, message: message, retryAt: nil))
    }
}

extension JobQueue {
    /// Commits the outcomes of a worker's jobs: completions, failures and releases, one transaction each.
    public func commit(_ outcomes: [JobOutcome], owner: String, now: Double) async throws {
        var completions: [JobCompletion] = []
        var failures: [JobFailure] = []
        var released: [Int64] = []
        for outcome in outcomes {
            switch outcome {
            case .completed(let completion): completions.append(completion)
            case .failed(let failure): failures.append(failure)
            case .released(let id): released.append(id)
            }
        }
        try await complete(completions, owner: owner, now: now)
        try await fail(failures, owner: owner, now: now)
        try await release(jobIDs: released, owner: owner)
    }
}
