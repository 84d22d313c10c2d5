import Foundation
import Queue
import Scheduler
import SluiceCore

extension CallWorker {
    /// What the scheduler learns from an attempt.
    static func report(_ outcome: CallOutcome) -> CallReport {
        let result: CallReport.Result
        switch outcome.errorClass {
        case .rateLimited: result = .rateLimited(retryAfter: outcome.retryAfter)
        // A redirect fails every request alike: the circuit breaker stops calling it.
        case .serverError, .timeout, .connection, .invalidResponse, .redirected: result = .failed
        default: result = .answered  // success, or a client error that says nothing about the deployment
        }
        return CallReport(
            result: result, latencySeconds: outcome.latencySeconds, promptTokens: outcome.usage?.promptTokens ?? 0,
            cachedTokens: outcome.usage?.cachedTokens ?? 0, completionTokens: outcome.usage?.completionTokens ?? 0,
            remainingTokens: outcome.remainingTokens, remainingRequests: outcome.remainingRequests,
            limitTokens: outcome.limitTokens, limitRequests: outcome.limitRequests,
            utilization: outcome.utilization, region: outcome.region)
    }

    func classify(
        _ outcome: CallOutcome, job: Job, input: CallInput, deployment: Deployment,
        context: RunReplies, cost: CostRecord?, pricedModel: String, batchID: String? = nil
    ) async throws -> JobOutcome {
        let attempts = job.attempts + 1
        counters.update { counters in
            counters.calls += 1
            counters.latencySeconds += outcome.latencySeconds
            counters.outcomes[outcome.errorClass?.rawValue ?? "ok", default: 0] += 1
            if outcome.errorClass == .rateLimited { counters.rateLimited += 1 }
            if let usage = outcome.usage {
                counters.promptTokens += usage.promptTokens
                counters.completionTokens += usage.completionTokens
                counters.cost += cost?.total ?? 0
                counters.costByDeployment[deployment.name, default: 0] += cost?.total ?? 0
            }
        }
        var record = CallRecord(
            statusCode: outcome.statusCode, requestID: outcome.requestID,
            body: outcome.body, errorCode: outcome.errorClass?.rawValue,
            errorMessage: outcome.message, deployment: deployment.name, model: outcome.model, attempts: attempts,
            latencyMilliseconds: Int(outcome.latencySeconds * 1000), usage: outcome.usage)
        if let served = outcome.servedBy, served != deployment.deployment { record.spilledTo = served }
        record.cost = cost
        record.batchID = batchID
        let spend = outcome.usage.map { usage in
            Spend(
                runID: job.runID, document: input.document.path, deployment: deployment.name,
                model: outcome.model ?? pricedModel, promptTokens: usage.promptTokens,
                cachedTokens: usage.cachedTokens ?? 0, completionTokens: usage.completionTokens,
                reasoningTokens: usage.reasoningTokens ?? 0, cost: cost?.total)
        }
        let pipelineName = context.run.pipeline.name
        let now = configuration.clock.now
        guard let errorClass = outcome.errorClass else {
            var reply = CallReply(
                input: input, record: record, pipeline: pipelineName, job: job, content: outcome.content)
            // Structured outputs: the reply must be JSON (matching the schema, if there is one).
            if let format = context.run.pipeline.responseFormat {
                switch Self.checkOutput(reply.text, format: format, schema: context.schema) {
                case .success(let output):
                    reply.record.output = output.text
                case .failure(let problem):
                    let message = "the reply does not match the response format: \(problem.message)"
                    if attempts <= context.run.pipeline.invalidOutputRetries
                        && attempts < configuration.retry.maxAttempts
                    {
                        counters.update { $0.invalidOutputs += 1 }
                        return .failed(
                            JobFailure(
                                jobID: job.id, errorClass: .invalidOutput, message: message, retryAt: now,
                                spend: spend))
                    }
                    record.errorCode = ErrorClass.invalidOutput.rawValue
                    record.errorMessage = message
                    return try terminal(
                        .invalidOutput, record: record, input: input, job: job, attempts: attempts, spend: spend,
                        keepBody: true)
                }
            }
            counters.update { $0.succeeded += 1 }
            let result = try JSONEncoder.sluice.encode(reply.record)
            return .completed(
                JobCompletion(
                    jobID: job.id, next: [try reply.line()],
                    unitResult: UnitResult(unitKey: input.unitKey, result: result, body: reply.record.body),
                    parts: try reply.parts(), spend: spend))
        }
        if errorClass == .rateLimited {
            // Requeued at once, not counted as an attempt: the scheduler has paused that deployment (or
            // stopped it, for a retry-after beyond the cap), so the retry waits there or goes elsewhere.
            return .failed(
                JobFailure(
                    jobID: job.id, errorClass: .rateLimited, message: outcome.message ?? "HTTP 429", retryAt: now,
                    countsAsAttempt: false))
        } else if errorClass.isRetryable && attempts < configuration.retry.maxAttempts {
            var generator = SystemRandomNumberGenerator()
            let delay = configuration.retry.delay(
                afterAttempts: attempts, retryAfter: outcome.retryAfter, using: &generator)
            return .failed(
                JobFailure(
                    jobID: job.id, errorClass: errorClass, message: outcome.message ?? errorClass.rawValue,
                    retryAt: now + delay, spend: spend))
        }
        // Only a 200 whose output was filtered keeps its body in the error line.
        return try terminal(
            errorClass, record: record, input: input, job: job, attempts: attempts, spend: spend,
            keepBody: record.statusCode == 200)
    }

    /// A call that failed for good: its error line, and the reduce that waited for it is abandoned.
    private func terminal(
        _ errorClass: ErrorClass, record: CallRecord, input: CallInput, job: Job, attempts: Int, spend: Spend?,
        keepBody: Bool
    ) throws -> JobOutcome {
        var record = record
        if !keepBody { record.body = nil }
        let pipelineName = runs.cached(job.runID)?.run.pipeline.name ?? ""
        let reply = CallReply(input: input, record: record, pipeline: pipelineName, job: job)
        let what = input.reduce.map { "reduce level \($0.level) group \($0.group + 1)" } ?? "chunk \(input.chunk + 1)"
        return .failed(
            JobFailure(
                jobID: job.id, errorClass: errorClass, message: record.errorMessage ?? errorClass.rawValue,
                retryAt: nil, next: [try reply.line(suffix: "!failed-\(attempts)-\(job.rateLimited)")],
                abandons: input.delivery.map {
                    [
                        JobAbandon(
                            runID: job.runID, key: $0.key,
                            message:
                                "\(what) of \(input.document.path) failed (\(errorClass.rawValue)): no result to reduce"
                        )
                    ]
                } ?? [], spend: spend))
    }

    /// The reply parsed as JSON and checked against the schema.
    static func checkOutput(_ text: String?, format: PipelineDefinition.ResponseFormat, schema: JSONSchema?)
        -> Result<JSONValue, SluiceError>
    {
        guard let text else { return .failure(SluiceError(.invalidOutput, "the reply has no message content")) }
        let value: JSONValue
        do {
            value = try JSONValue.parse(text)
        } catch let error as SluiceError {
            return .failure(error)
        } catch {
            return .failure(SluiceError(.invalidOutput, "\(error)", cause: error))
        }
        guard case .object = value else {
            return .failure(SluiceError(.invalidOutput, "expected a JSON object, got \(value.typeName)"))
        }
        if let schema {
            let problems = schema.problems(value)
            if !problems.isEmpty { return .failure(SluiceError(.invalidOutput, problems.joined(separator: "; "))) }
        }
        return .success(value)
    }
}
