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

    public init(id: Int64, runID: Int64, stage: Stage, key: String, payload: Data, attempts: Int, rateLimited: Int) {
        self.id = id
        self.runID = runID
        self.stage = stage
        self.key = key
        self.payload = payload
        self.attempts = attempts
        self.rateLimited = rateLimited
    }

    /// Decodes the payload.
    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: payload)
        } catch {
            throw SluiceError(.corruptJob, "job \(id) (\(stage.rawValue) \(key)): unreadable payload: \(error)")
        }
    }
}

/// A job to add to the queue.
public struct NewJob: Sendable, Hashable {
    public var runID: Int64
    public var stage: Stage
    public var key: String
    public var payload: Data

    public init(runID: Int64, stage: Stage, key: String, payload: Data) {
        self.runID = runID
        self.stage = stage
        self.key = key
        self.payload = payload
    }

    /// A job whose payload is a value encoded as JSON.
    public init<T: Encodable>(runID: Int64, stage: Stage, key: String, encoding value: T) throws {
        self.init(runID: runID, stage: stage, key: key, payload: try JSONEncoder.sluice.encode(value))
    }
}

/// The end of a job: its successors, enqueued atomically with marking it done.
public struct JobCompletion: Sendable, Hashable {
    public var jobID: Int64
    public var next: [NewJob]
    /// A result remembered by its unit key, so an identical unit is never paid for twice.
    public var unitResult: UnitResult?

    public init(jobID: Int64, next: [NewJob], unitResult: UnitResult? = nil) {
        self.jobID = jobID
        self.next = next
        self.unitResult = unitResult
    }
}

/// A finished call's result, stored under the unit's identity.
public struct UnitResult: Sendable, Hashable {
    public var unitKey: String
    public var result: Data

    public init(unitKey: String, result: Data) {
        self.unitKey = unitKey
        self.result = result
    }
}

/// A failed attempt at a job.
public struct JobFailure: Sendable, Hashable {
    public var jobID: Int64
    public var errorClass: ErrorClass
    public var message: String
    /// When to try again (seconds since 1970); nil makes the failure terminal.
    public var retryAt: Double?
    /// Whether the attempt counts against the attempt limit (a 429 does not).
    public var countsAsAttempt: Bool
    /// Jobs to enqueue with a terminal failure (the error line of a chunk).
    public var next: [NewJob]

    public init(
        jobID: Int64, errorClass: ErrorClass, message: String, retryAt: Double?, countsAsAttempt: Bool = true,
        next: [NewJob] = []
    ) {
        self.jobID = jobID
        self.errorClass = errorClass
        self.message = message
        self.retryAt = retryAt
        self.countsAsAttempt = countsAsAttempt
        self.next = next
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
