import Foundation

/// One batch of the batch lane as the queue keeps it: Sluice's step in its life, and what the
/// service said of it. Every step is recorded before the next request is made, so a process killed
/// at any moment finds the batch again (by its ids, or by its `name` for the window between a
/// request and its record).
public struct BatchRecord: Sendable, Hashable, Codable {
    /// Sluice's step in a batch's life.
    public enum Step: String, Sendable, Hashable, Codable, CaseIterable {
        /// Its lines are chosen and their jobs held; the input file may not be uploaded yet.
        case packed
        /// The input file is uploaded (its id recorded); the batch may not be created yet.
        case uploaded
        /// The batch is created (its id recorded) and is polled until it ends.
        case submitted
        /// The service finished it (completed, failed, expired or cancelled): its lines are to commit.
        case ended
        /// Its lines are committed; its files are to delete.
        case collected
        /// Nothing left to do.
        case done

        /// Whether its input tokens count against the deployment's enqueued-token quota.
        public var holdsQuota: Bool { self == .packed || self == .uploaded || self == .submitted }
    }

    /// The queue's id (0 until recorded).
    public var id: Int64 = 0
    /// The batch deployment (its name in the configuration).
    public var deployment: String
    /// The name Sluice gave it: the input file's name (`NAME.jsonl`) and the batch's `sluice_batch`
    /// metadata, unique to this batch.
    public var name: String
    /// Where it is in its life.
    public var step: Step
    /// The worker that drives it (nil: a stopped worker's, for any worker to adopt).
    public var owner: String?
    /// The input tokens of its lines (exact: the tokenizer's count).
    public var inputTokens: Int
    /// Its lines.
    public var lines: Int
    /// When it was packed, and last changed (seconds since 1970).
    public var created: Double
    public var updated: Double
    /// The service's input file id, once uploaded.
    public var inputFileID: String?
    /// The service's batch id, once created.
    public var batchID: String?
    /// The service's status (`validating`, `in_progress`, …, `completed`).
    public var status: String?
    /// The service's output and error files, once it ended.
    public var outputFileID: String?
    public var errorFileID: String?
    /// The service's request counts.
    public var completed = 0
    public var failed = 0
    /// Creations refused for the enqueued-token quota (`token_limit_exceeded`) so far.
    public var refusals = 0
    /// The next request about it is not due before this (polling, backoff).
    public var notBefore = 0.0
    /// The last thing worth telling about it (a refusal, a failure).
    public var message: String?
    /// `sluice cancel` asked for it to be cancelled.
    public var cancelRequested = false
    /// An upload, or a creation, was sent and its answer not recorded: before another, the service
    /// is asked whether it happened (a file or batch of this name).
    public var uploadSent = false
    public var creationSent = false

    /// A batch just packed.
    public init(deployment: String, name: String, inputTokens: Int, lines: Int, owner: String, now: Double) {
        self.deployment = deployment
        self.name = name
        self.step = .packed
        self.owner = owner
        self.inputTokens = inputTokens
        self.lines = lines
        self.created = now
        self.updated = now
    }
}

/// A line of a batch: its `custom_id` and the call job behind it.
public struct BatchLine: Sendable, Hashable {
    /// The line's `custom_id` (unique within its batch).
    public var customID: String
    /// The call job it answers.
    public var jobID: Int64

    /// Creates it from its fields.
    public init(customID: String, jobID: Int64) {
        self.customID = customID
        self.jobID = jobID
    }
}

/// What became of recording a batch.
public enum BatchRecording: Sendable, Hashable {
    /// Recorded, with its id; its jobs are held (``SluiceCore/JobState/batched``).
    case recorded(BatchRecord)
    /// The deployment's batches holding quota already have `used` input tokens: this one would pass it.
    case quotaFull(used: Int)
    /// Some of its jobs are no longer leased by this owner: nothing was recorded.
    case leaseLost
}

/// SQL both backends share for the batch lane.
enum BatchSQL {
    /// The state a reclaimed lease goes back to: `batched` for a job whose latest batch has ended
    /// (its line is still to commit: a worker killed while committing must not send it again),
    /// else `ready`.
    static let reclaimedState = """
        CASE WHEN (SELECT batches.step FROM batch_lines JOIN batches ON batches.id = batch_lines.batch_id
                   WHERE batch_lines.job_id = jobs.id ORDER BY batch_lines.batch_id DESC LIMIT 1) = 'ended'
             THEN 'batched' ELSE 'ready' END
        """
}
