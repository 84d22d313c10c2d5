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
    /// Not workable on this worker's host (a document's path it cannot read): left to workers of
    /// other hosts, and failed with this failure once every host with a live worker has tried.
    case passedOn(JobFailure)
    /// Handed over to a part of this worker that commits it itself (the batch lane): still leased by
    /// this owner, nothing to commit now.
    case handedOver(Int64)

    /// A terminal failure of a job that cannot be worked, with the reason.
    public static func invalid(_ job: Job, _ message: String) -> JobOutcome {
        .failed(JobFailure(jobID: job.id, errorClass: .invalidJob, message: message, retryAt: nil))
    }
}

extension JobQueue {
    /// Commits the outcomes of a worker's jobs: completions, failures, releases and jobs passed on,
    /// one transaction each.
    ///
    /// - Parameter workerTimeout: A worker whose heartbeat is older is not counted among the hosts a
    ///   job passed on may still go to.
    public func commit(_ outcomes: [JobOutcome], owner: String, now: Double, workerTimeout: Double = 30)
        async throws
    {
        var completions: [JobCompletion] = []
        var failures: [JobFailure] = []
        var released: [Int64] = []
        var passed: [JobFailure] = []
        for outcome in outcomes {
            switch outcome {
            case .completed(let completion): completions.append(completion)
            case .failed(let failure): failures.append(failure)
            case .released(let id): released.append(id)
            case .passedOn(let failure): passed.append(failure)
            case .handedOver: break
            }
        }
        try await complete(completions, owner: owner, now: now)
        try await fail(failures, owner: owner, now: now)
        try await release(jobIDs: released, owner: owner)
        try await passOn(passed, owner: owner, liveSince: now - workerTimeout, now: now)
    }
}

/// The hosts a job was passed on by (``JobQueue/passOn(_:owner:liveSince:now:)``), as the queue keeps
/// them: `|host|host|`, searched for `|host|`.
public enum PassedHosts {
    /// How long a job passed on is not claimed again by a worker of a host that passed it (seconds):
    /// then it may be (the other hosts may have gone), and fails if every live host has tried.
    public static let exclusionSeconds = 60.0

    /// The host of a lease owner (`host:pid:random`).
    public static func host(of owner: String) -> String { String(owner.split(separator: ":").first ?? "") }

    /// What a claim by this owner looks for in the list.
    public static func token(of owner: String) -> String { "|" + host(of: owner) + "|" }

    /// The hosts in a stored list (none for NULL).
    public static func decode(_ text: String?) -> Set<String> {
        Set((text ?? "").split(separator: "|").map(String.init))
    }

    /// The stored list of hosts, sorted.
    public static func encode(_ hosts: Set<String>) -> String { "|" + hosts.sorted().joined(separator: "|") + "|" }

    /// What becomes of a job passed on by `owner`: the hosts that have now tried it, and the failure
    /// to record when no live host is left to try (nil: ready again for the others).
    static func outcome(passed: String?, owner: String, live: [String], failure: JobFailure)
        -> (hosts: String, failure: String?)
    {
        var hosts = decode(passed)
        hosts.insert(host(of: owner))
        let liveHosts = Set(live.map(host(of:)))
        guard liveHosts.isSubset(of: hosts) else { return (encode(hosts), nil) }
        // One host alone (the usual SQLite run): its own message says it all.
        guard hosts.count > 1 else { return (encode(hosts), failure.message) }
        return (
            encode(hosts),
            failure.message + " (on every host with a worker: \(hosts.sorted().joined(separator: ", ")); "
                + "give the workers the same root, or storage they share)"
        )
    }
}
