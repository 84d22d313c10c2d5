import Foundation

/// A unit of work in the queue.
public struct Job: Sendable, Hashable {
    /// The queue's id.
    public var id: Int64
    /// The run it belongs to.
    public var runID: Int64
    /// The stage that processes it.
    public var stage: Stage
    /// Its identity within the run and stage; enqueueing the same key again adds nothing.
    public var key: String
    /// The stage's input, JSON.
    public var payload: Data
    /// Failed attempts so far (429s are not counted).
    public var attempts: Int
    /// Times the service answered 429 for it.
    public var rateLimited: Int
    /// A reduce job's parts, in part order.
    public var parts: [Data]
    /// Bytes that travel beside the payload as they are, not escaped inside its JSON (a call job's
    /// request body; a failed call's reply on its collect job).
    public var body: Data?

    /// Creates it from its fields.
    public init(
        id: Int64, runID: Int64, stage: Stage, key: String, payload: Data, attempts: Int, rateLimited: Int,
        parts: [Data] = [], body: Data? = nil
    ) {
        self.body = body
        self.id = id
        self.runID = runID
        self.stage = stage
        self.key = key
        self.payload = payload
        self.attempts = attempts
        self.rateLimited = rateLimited
        self.parts = parts
    }

    /// Decodes the payload.
    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: payload)
        } catch {
            throw SluiceError(
                .corruptJob, "job \(id) (\(stage.rawValue) \(key)): unreadable payload: \(error)", cause: error)
        }
    }
}

/// A job to add to the queue.
public struct NewJob: Sendable, Hashable {
    /// The run it belongs to.
    public var runID: Int64
    /// The stage that will process it.
    public var stage: Stage
    /// Its identity within the run and stage.
    public var key: String
    /// The stage's input, JSON.
    public var payload: Data
    /// A job that waits for this many parts (``JobPart``) before it is ready; nil: ready at once.
    public var parts: Int?
    /// Bytes stored beside the payload (see ``Job/body``).
    public var body: Data?

    /// Creates it from its fields.
    public init(runID: Int64, stage: Stage, key: String, payload: Data, parts: Int? = nil, body: Data? = nil) {
        self.body = body
        self.runID = runID
        self.stage = stage
        self.key = key
        self.payload = payload
        self.parts = parts
    }

    /// A job whose payload is a value encoded as JSON.
    public init<T: Encodable>(
        runID: Int64, stage: Stage, key: String, encoding value: T, parts: Int? = nil, body: Data? = nil
    ) throws {
        self.init(
            runID: runID, stage: stage, key: key, payload: try JSONEncoder.sluice.encode(value), parts: parts,
            body: body)
    }
}

/// One part delivered to a waiting job (stage ``Stage/reduce``), identified by its run and key.
/// Delivering the same part twice keeps the first.
public struct JobPart: Sendable, Hashable {
    /// The run of the waiting job.
    public var runID: Int64
    /// The waiting job's key.
    public var key: String
    /// Which part it is (from 0).
    public var part: Int
    /// The part, JSON.
    public var payload: Data

    /// Creates it from its fields.
    public init(runID: Int64, key: String, part: Int, payload: Data) {
        self.runID = runID
        self.key = key
        self.part = part
        self.payload = payload
    }
}

/// A waiting job that can never get all its parts: it fails with the reason.
public struct JobAbandon: Sendable, Hashable {
    /// The run of the waiting job.
    public var runID: Int64
    /// The waiting job's key.
    public var key: String
    /// Why it fails.
    public var message: String

    /// Creates it from its fields.
    public init(runID: Int64, key: String, message: String) {
        self.runID = runID
        self.key = key
        self.message = message
    }
}

/// What a call used and cost, added to the queue's spend record with the job's end.
public struct Spend: Sendable, Hashable, Codable {
    /// The run.
    public var runID: Int64
    /// The document's path.
    public var document: String
    /// The deployment called.
    public var deployment: String
    /// The model that served the call (the reply's `model`), or the deployment's.
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
    /// List-price cost; nil when the call is not priced (provisioned, or no price known).
    public var cost: Double?

    /// Creates it from its fields.
    public init(
        runID: Int64, document: String, deployment: String, model: String, calls: Int = 1, promptTokens: Int,
        cachedTokens: Int, completionTokens: Int, reasoningTokens: Int, cost: Double?
    ) {
        self.runID = runID
        self.document = document
        self.deployment = deployment
        self.model = model
        self.calls = calls
        self.promptTokens = promptTokens
        self.cachedTokens = cachedTokens
        self.completionTokens = completionTokens
        self.reasoningTokens = reasoningTokens
        self.cost = cost
    }
}

/// The end of a job: its successors, enqueued atomically with marking it done.
public struct JobCompletion: Sendable, Hashable {
    /// The job that ended.
    public var jobID: Int64
    /// Its successors.
    public var next: [NewJob]
    /// A result remembered by its unit key, so an identical unit is never paid for twice.
    public var unitResult: UnitResult?
    /// Parts delivered to waiting jobs.
    public var parts: [JobPart]
    /// What the job's call used and cost.
    public var spend: Spend?
    /// The job was a reduce job: its parts can go.
    public var consumesParts: Bool

    /// Creates it from its fields.
    public init(
        jobID: Int64, next: [NewJob], unitResult: UnitResult? = nil, parts: [JobPart] = [], spend: Spend? = nil,
        consumesParts: Bool = false
    ) {
        self.consumesParts = consumesParts
        self.jobID = jobID
        self.next = next
        self.unitResult = unitResult
        self.parts = parts
        self.spend = spend
    }
}

/// A finished call's result, stored under the unit's identity: its record (JSON) and the reply's
/// body as the service sent it.
public struct UnitResult: Sendable, Hashable {
    /// The unit's identity (document hash, chunk, pipeline hash).
    public var unitKey: String
    /// The ``CallRecord``, JSON (without the body).
    public var result: Data
    /// The response body, bytes as received.
    public var body: Data?

    /// Creates it from its fields.
    public init(unitKey: String, result: Data, body: Data? = nil) {
        self.unitKey = unitKey
        self.result = result
        self.body = body
    }

    /// The record with its body.
    public func record() throws -> CallRecord {
        var record: CallRecord
        do {
            record = try JSONDecoder().decode(CallRecord.self, from: result)
        } catch {
            throw SluiceError(.corruptJob, "the stored result of unit \(unitKey) is unreadable: \(error)", cause: error)
        }
        record.body = body
        return record
    }
}

/// A failed attempt at a job.
public struct JobFailure: Sendable, Hashable {
    /// The job that failed.
    public var jobID: Int64
    /// Why.
    public var errorClass: ErrorClass
    /// What went wrong.
    public var message: String
    /// When to try again (seconds since 1970); nil makes the failure terminal.
    public var retryAt: Double?
    /// Whether the attempt counts against the attempt limit (a 429 does not).
    public var countsAsAttempt: Bool
    /// Jobs to enqueue with a terminal failure (the error line of a chunk).
    public var next: [NewJob]
    /// Waiting jobs that a terminal failure leaves without one of their parts.
    public var abandons: [JobAbandon]
    /// What the attempt's call used and cost (a reply that was paid for but not accepted).
    public var spend: Spend?

    /// Creates it from its fields.
    public init(
        jobID: Int64, errorClass: ErrorClass, message: String, retryAt: Double?, countsAsAttempt: Bool = true,
        next: [NewJob] = [], abandons: [JobAbandon] = [], spend: Spend? = nil
    ) {
        self.jobID = jobID
        self.errorClass = errorClass
        self.message = message
        self.retryAt = retryAt
        self.countsAsAttempt = countsAsAttempt
        self.next = next
        self.abandons = abandons
        self.spend = spend
    }
}

extension JSONEncoder {
    /// Sluice's JSON: sorted keys, so equal values encode to equal bytes.
    public static var sluice: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
