import Foundation
import SluiceCore

/// The durable job queue the stages talk through.
///
/// SQLite (``SQLiteJobQueue``) is the embedded implementation; a server database can implement the
/// same protocol for many workers on many machines. Every method is one transaction.
public protocol JobQueue: Sendable {
    /// Wakes this process's workers when its commits make jobs of their stage ready.
    var signals: WorkSignals { get }
    /// The run for a root and pipeline, created on first use; a changed definition is stored.
    func run(root: String, pipeline: PipelineDefinition, pipelineHash: String) async throws -> RunRecord
    /// All runs.
    func runs() async throws -> [RunRecord]

    /// Records the documents found under a run's root and enqueues an ingest job for each new or
    /// changed one; documents not found again are marked deleted.
    func recordDocuments(run: RunRecord, found: [FoundDocument], skipped: [SkippedFile]) async throws -> EnqueueSummary
    /// What a run knows of a path: its size, mtime and hash, to skip hashing unchanged files.
    func knownDocuments(runID: Int64) async throws -> [String: DocumentRef]

    /// Adds jobs; a job whose (run, stage, key) exists already is not added again. Returns how many were added.
    @discardableResult
    func enqueue(_ jobs: [NewJob]) async throws -> Int
    /// Leases up to `limit` ready jobs of a stage whose retry time has come, oldest first.
    func claim(stage: Stage, limit: Int, owner: String, leaseSeconds: Double, now: Double) async throws -> [Job]
    /// Marks jobs done and enqueues their successors, atomically. Jobs whose lease was lost are skipped.
    func complete(_ completions: [JobCompletion], owner: String, now: Double) async throws
    /// Records failed attempts: back to ready with a retry time, or failed for good.
    func fail(_ failures: [JobFailure], owner: String, now: Double) async throws
    /// Gives leased jobs back without counting an attempt (shutdown).
    func release(jobIDs: [Int64], owner: String) async throws
    /// Leaves leased jobs this owner's host cannot work to workers of other hosts: ready again, not
    /// claimed by a host that passed them on for ``PassedHosts/exclusionSeconds``; failed for good
    /// with their failure once every host with a worker whose heartbeat is not older than `liveSince`
    /// has passed them on.
    func passOn(_ failures: [JobFailure], owner: String, liveSince: Double, now: Double) async throws
    /// Returns the leases of dead owners, and expired leases, to the ready state.
    func reclaimLeases(owners: [String], expiredBefore: Double) async throws -> Int
    /// Owners that hold leases now.
    func leaseOwners() async throws -> [String]
    /// Puts every terminal failure back in the queue with its attempts reset. Returns how many.
    func retryFailed() async throws -> Int

    /// A stored result for a unit of work, if it was ever paid for.
    func unitResult(unitKey: String) async throws -> UnitResult?
    /// The keys of every unit of work whose result is stored (paid for).
    func storedUnitKeys() async throws -> [String]
    /// The stored results of several units, by unit key (units without one are absent).
    func unitResults(unitKeys: [String]) async throws -> [String: UnitResult]

    /// The collect jobs whose lines make a run's export, in id order: the latest done one of each
    /// unit (a unit that failed and later succeeded has two; the success wins). Nil: every run.
    func exportedLineIDs(runID: Int64?) async throws -> [Int64]
    /// Jobs by id, with their payload and bytes (a done collect job keeps both, for the export).
    func jobs(ids: [Int64]) async throws -> [Job]

    /// The byte length of an output file that committed lines account for; nil when no run of this
    /// queue has written it.
    func committedOutputLength(path: String) async throws -> Int64?
    /// Marks collect jobs done together with the output length after their lines.
    func commitCollected(jobIDs: [Int64], owner: String, path: String, length: Int64, now: Double) async throws

    /// Counts by stage and state, failures by class, and the earliest pending retry.
    func statistics() async throws -> QueueStatistics
    /// Whether any job is ready (now or later) or leased: cheap, for deciding when a run is done.
    func hasPendingWork() async throws -> Bool
    /// Terminal failures with their reasons.
    func failures(limit: Int) async throws -> [FailedJob]

    /// What calls used and cost, per deployment and model, and the `documents` dearest documents.
    func spendReport(documents: Int) async throws -> SpendReport

    /// Reserves `amount` of a budget of `limit` for a call job (one budget for every worker on the
    /// queue): true, and reserved, when the recorded spend, every reservation and this one stay within
    /// it. A job's reservation goes with its end (completed, failed, released, or its owner reclaimed).
    func reserveBudget(jobID: Int64, owner: String, amount: Double, limit: Double) async throws -> Bool
    /// Sets a call's reservation to what it cost, until its job's end records the spend.
    func settleBudget(jobID: Int64, cost: Double) async throws
    /// The recorded spend and the reservations of the calls in flight, on every worker.
    func budgetUse() async throws -> (spent: Double, reserved: Double)

    /// Records that a worker (a lease owner) is alive now; the first beat records when it started.
    func heartbeat(owner: String, now: Double) async throws
    /// The workers known, with when each started and last beat, latest first.
    func workers() async throws -> [WorkerRecord]
    /// Forgets a worker that has stopped (its leases are gone).
    func forgetWorker(owner: String) async throws

    /// Stores a small piece of a running process's state (e.g. its deployments, for `sluice status`).
    func setRunState(key: String, value: Data) async throws
    /// A stored piece of run state and when it was stored (seconds since 1970).
    func runState(key: String) async throws -> (value: Data, updated: Double)?
    /// Reads a piece of run state (nil when there is none), lets `body` change it and stores it, in one
    /// transaction other workers of the queue wait for; `now` is the database's clock (seconds since
    /// 1970), one clock for every worker on every host.
    func updateRunState<T: Sendable>(
        key: String, _ body: @escaping @Sendable (inout Data?, _ now: Double) throws -> T
    ) async throws -> T

    // MARK: The batch lane

    /// Records a batch of leased call jobs, in one transaction: when the input tokens of the
    /// deployment's batches that hold quota (``BatchRecord/Step/holdsQuota``) and this one's stay
    /// within `quota`, the batch, its lines, and its jobs moved from leased (by `owner`) to batched.
    func recordBatch(_ batch: BatchRecord, lines: [BatchLine], owner: String, quota: Int) async throws
        -> BatchRecording
    /// Stores a batch's record as it is now (by its id).
    func updateBatch(_ batch: BatchRecord) async throws
    /// The batches not done (every batch with `all`), oldest first.
    func batches(all: Bool) async throws -> [BatchRecord]
    /// Takes on the batches of no owner (a stopped worker's) and returns every batch not done that
    /// `owner` drives.
    func adoptBatches(owner: String) async throws -> [BatchRecord]
    /// Asks for every batch not ended yet to be cancelled (``BatchRecord/cancelRequested``; kept
    /// apart from the record, which its worker rewrites). Returns how many.
    func requestBatchCancel() async throws -> Int
    /// A batch's lines.
    func batchLines(batchID: Int64) async throws -> [BatchLine]
    /// Leases a batch's held jobs to `owner` (to commit their lines), with their payload and bytes:
    /// those still batched whose latest batch it is.
    func claimBatched(batchID: Int64, owner: String, leaseSeconds: Double, now: Double) async throws -> [Job]
}

/// A document found when enqueueing, with its absolute file path.
public struct FoundDocument: Sendable, Hashable {
    /// The document found.
    public var document: DocumentRef
    /// Its absolute path.
    public var file: String

    /// Creates it from its fields.
    public init(document: DocumentRef, file: String) {
        self.document = document
        self.file = file
    }
}

/// Queue counts.
public struct QueueStatistics: Sendable, Hashable, Codable {
    /// `counts[stage][state]`.
    public var counts: [String: [String: Int]] = [:]
    /// Terminal failures by error class.
    public var failuresByClass: [String: Int] = [:]
    /// Retries waiting, by error class of the last attempt.
    public var retryingByClass: [String: Int] = [:]
    /// The earliest retry time among ready jobs, seconds since 1970.
    public var nextRetryAt: Double?
    /// Documents by status (ok, skipped, deleted).
    public var documents: [String: Int] = [:]
    /// Reduce calls (stage call, keys under ``JobKey/reduceCallPrefix``) by state: part of `counts`.
    public var reduceCalls: [String: Int] = [:]

    /// No jobs.
    public init() {}

    /// Jobs of a stage in a state.
    public func count(_ stage: Stage, _ state: JobState) -> Int { counts[stage.rawValue]?[state.rawValue] ?? 0 }

    /// Chunk calls (call jobs that are not reduce calls) in a state.
    public func chunkCalls(_ state: JobState) -> Int { count(.call, state) - (reduceCalls[state.rawValue] ?? 0) }

    /// Jobs still to do: ready, leased, or held in a batch.
    public var pending: Int {
        counts.values.reduce(0) {
            $0 + ($1[JobState.ready.rawValue] ?? 0) + ($1[JobState.leased.rawValue] ?? 0)
                + ($1[JobState.batched.rawValue] ?? 0)
        }
    }
}

/// A job that failed for good.
public struct FailedJob: Sendable, Hashable, Codable {
    /// The stage it failed in.
    public var stage: Stage
    /// The job's key.
    public var key: String
    /// The failure's class.
    public var errorClass: String
    /// The last error message.
    public var message: String
    /// Attempts made.
    public var attempts: Int

    /// Creates it from its fields.
    public init(stage: Stage, key: String, errorClass: String, message: String, attempts: Int) {
        self.stage = stage
        self.key = key
        self.errorClass = errorClass
        self.message = message
        self.attempts = attempts
    }
}

/// Usage and list-price cost recorded in the queue.
public struct SpendReport: Sendable, Hashable, Codable {
    /// One deployment and serving model.
    public struct Line: Sendable, Hashable, Codable {
        /// The deployment.
        public var deployment: String
        /// The model that served the calls.
        public var model: String
        /// Calls.
        public var calls: Int
        /// Prompt tokens.
        public var promptTokens: Int
        /// Cached prompt tokens.
        public var cachedTokens: Int
        /// Completion tokens.
        public var completionTokens: Int
        /// Reasoning tokens.
        public var reasoningTokens: Int
        /// List-price cost.
        public var cost: Double
        /// Calls with no price (provisioned, or a model without a list price).
        public var unpricedCalls: Int

        /// Creates it from its fields.
        public init(
            deployment: String, model: String, calls: Int, promptTokens: Int, cachedTokens: Int,
            completionTokens: Int, reasoningTokens: Int, cost: Double, unpricedCalls: Int
        ) {
            self.deployment = deployment
            self.model = model
            self.calls = calls
            self.promptTokens = promptTokens
            self.cachedTokens = cachedTokens
            self.completionTokens = completionTokens
            self.reasoningTokens = reasoningTokens
            self.cost = cost
            self.unpricedCalls = unpricedCalls
        }
    }

    /// One document's calls.
    public struct Document: Sendable, Hashable, Codable {
        /// The document's path.
        public var document: String
        /// Calls made for it.
        public var calls: Int
        /// What they cost.
        public var cost: Double

        /// Creates it from its fields.
        public init(document: String, calls: Int, cost: Double) {
            self.document = document
            self.calls = calls
            self.cost = cost
        }
    }

    /// Per deployment and model.
    public var lines: [Line] = []
    /// The dearest documents, dearest first.
    public var dearest: [Document] = []
    /// Documents with at least one call.
    public var documents: Int = 0

    /// Nothing spent.
    public init() {}

    /// What every call cost.
    public var total: Double { lines.reduce(0) { $0 + $1.cost } }
    /// Calls made.
    public var calls: Int { lines.reduce(0) { $0 + $1.calls } }
    /// Mean cost per document with calls.
    public var perDocument: Double { documents > 0 ? total / Double(documents) : 0 }

    /// Cost per deployment.
    public var byDeployment: [String: Double] { lines.reduce(into: [:]) { $0[$1.deployment, default: 0] += $1.cost } }
}

/// A worker process as the queue knows it: its lease owner id (`host:pid:random`) and its heartbeat.
public struct WorkerRecord: Sendable, Hashable, Codable {
    /// The lease owner id.
    public var owner: String
    /// When it first beat (seconds since 1970).
    public var started: Double
    /// When it last beat.
    public var heartbeat: Double

    /// Creates it from its fields.
    public init(owner: String, started: Double, heartbeat: Double) {
        self.owner = owner
        self.started = started
        self.heartbeat = heartbeat
    }
}

extension EnqueueSummary {
    /// Counts a document found again against what the run recorded of its path (status and hash).
    mutating func count(_ document: DocumentRef, recorded: (status: String, sha256: String?)?) {
        switch recorded {
        case .some(("ok", let sha)) where sha == document.sha256: unchanged += 1
        case .some(("ok", _)): changed += 1
        default: new += 1
        }
    }
}

extension FoundDocument {
    /// The ingest jobs' payloads of documents found.
    static func ingestPayloads(_ found: [FoundDocument]) throws -> [Data] {
        try found.map { try JSONEncoder.sluice.encode(IngestInput(document: $0.document, file: $0.file)) }
    }
}
