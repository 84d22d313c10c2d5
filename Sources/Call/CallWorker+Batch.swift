import Foundation
import Queue
import SluiceCore

extension CallWorker {
    /// Hands a call to the batch lane when one of its batch deployments can take it: nil when it
    /// goes online instead (the pool's online deployments take what no batch can, and, with the
    /// pipeline's `batch_retries: online`, what a batch did not answer).
    func handOver(
        _ job: Job, input: CallInput, to batch: [String], lane: BatchLane, online: [String], context: RunReplies
    ) async throws -> JobOutcome? {
        if !online.isEmpty && job.attempts > 0 && context.run.pipeline.batchRetriesOnline { return nil }
        var reservation = 0.0
        if let budget {
            // The dearest of the batch deployments bounds what the call can cost.
            let maximum =
                batch.map {
                    configuration.pricing(deployment: $0, pipeline: context.run.pipeline).maximumCost(
                        input, n: context.run.pipeline.n)
                }.max() ?? 0
            guard try await budget.reserve(maximum, jobID: job.id, owner: owner) else {
                stop(await budget.refusal(maximum))
                return .released(job.id)
            }
            reservation = maximum
        }
        let answer = await lane.offer(job, input: input, to: batch)
        if case .accepted = answer { return .handedOver(job.id) }
        try await budget?.settle(reserved: reservation, spent: 0, jobID: job.id)
        switch answer {
        case .accepted: return .handedOver(job.id)
        case .closed: return .released(job.id)
        case .tooLarge(let reason):
            guard online.isEmpty else { return nil }
            return .failed(
                JobFailure(
                    jobID: job.id, errorClass: .badRequest, message: "no batch can take this call: \(reason)",
                    retryAt: nil))
        case .wait(let until):
            return .failed(
                JobFailure(
                    jobID: job.id, errorClass: .rateLimited,
                    message: "waiting for the enqueued-token quota of \(batch.joined(separator: ", "))",
                    retryAt: until, countsAsAttempt: false))
        }
    }

    /// The outcome of a call from its line in a batch's output or error file (nil: the batch ended
    /// without answering it).
    ///
    /// - Parameters:
    ///   - line: The line's `response` (`status_code`, `request_id`, `body`) or `error`.
    ///   - batch: The batch, ended.
    func batchOutcome(_ job: Job, line: BatchOutputLine?, batch: BatchRecord) async -> JobOutcome {
        let (input, context): (CallInput, RunReplies)
        switch await prepared(job) {
        case .ready(let known, let run): (input, context) = (known, run)
        case .unworkable(let outcome): return outcome
        }
        guard let deployment = configuration.deployments[batch.deployment] else {
            return .invalid(job, "no deployment '\(batch.deployment)' is configured for batch \(batch.name)")
        }
        let pricing = configuration.pricing(deployment: deployment.name, pipeline: context.run.pipeline)
        let now = configuration.clock.now
        let reserved = budget == nil ? 0 : pricing.maximumCost(input, n: context.run.pipeline.n)
        guard let line else {
            try? await budget?.settle(reserved: reserved, spent: 0, jobID: job.id)
            // A batch that expired or was cancelled did not get to the call: no attempt. One that failed,
            // or ended without a line for it, counts as one (a call the service never answers ends
            // failed for good, not in a loop of batches).
            let status = batch.status ?? "ended"
            return .failed(
                JobFailure(
                    jobID: job.id, errorClass: .incomplete,
                    message: "batch \(batch.batchID ?? batch.name) \(status) before this call was answered",
                    retryAt: now, countsAsAttempt: status != "expired" && status != "cancelled"))
        }
        if line.statusCode == nil, let code = line.errorCode, ["batch_expired", "batch_cancelled"].contains(code) {
            // The error file's line of a call the batch did not get to: no attempt, as above.
            try? await budget?.settle(reserved: reserved, spent: 0, jobID: job.id)
            return .failed(
                JobFailure(
                    jobID: job.id, errorClass: .incomplete,
                    message:
                        "batch \(batch.batchID ?? batch.name): \(code)\(line.errorMessage.map { ": \($0)" } ?? "")",
                    retryAt: now, countsAsAttempt: false))
        }
        var outcome = CallOutcome(latencySeconds: max(0, now - batch.created))
        outcome.statusCode = line.statusCode
        outcome.requestID = line.requestID
        outcome.body = line.body
        if line.statusCode != nil {
            ChatCompletionClient.classify(&outcome)
        } else {
            outcome.errorClass = .serverError
            outcome.message = "batch line error \(line.errorCode ?? "")\(line.errorMessage.map { ": \($0)" } ?? "")"
        }
        let cost = outcome.usage.flatMap { pricing.cost(of: $0, servedModel: outcome.model) }
        do {
            try await budget?.settle(reserved: reserved, spent: cost?.total ?? 0, jobID: job.id)
            return try await classify(
                outcome, job: job, input: input, deployment: deployment, context: context, cost: cost,
                pricedModel: pricing.deployedModel, batchID: batch.batchID)
        } catch {
            return .invalid(job, "\(error)")
        }
    }
}

/// One line of a batch's output or error file, as the service wrote it.
public struct BatchOutputLine: Sendable, Hashable {
    /// The line's `custom_id`.
    public var customID: String
    /// `response.status_code`, `response.request_id` and `response.body` (the bytes of its JSON).
    public var statusCode: Int?
    public var requestID: String?
    public var body: Data?
    /// `error.code` and `error.message` of a line without a response.
    public var errorCode: String?
    public var errorMessage: String?

    /// Reads a line (nil: not a JSON object with a `custom_id`).
    public init?(_ line: some Collection<UInt8>) {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any],
            let customID = object["custom_id"] as? String
        else { return nil }
        self.customID = customID
        if let response = object["response"] as? [String: Any] {
            statusCode = (response["status_code"] as? NSNumber)?.intValue
            requestID = response["request_id"] as? String
            if let body = response["body"], JSONSerialization.isValidJSONObject(body) {
                self.body = try? JSONSerialization.data(withJSONObject: body, options: [.withoutEscapingSlashes])
            }
        }
        if let error = object["error"] as? [String: Any] {
            errorCode = error["code"] as? String
            errorMessage = error["message"] as? String
        }
    }
}
