import Call
import Catalog
import Foundation
import Queue
import Scheduler
import SluiceCore

extension Workers {
    /// Keeps up to the deployments' total concurrency of calls in flight (each call waits for the
    /// scheduler's admission), committing results in batches.
    func callStage() async throws {
        let limit = max(1, configuration.deploymentQuotas.map(\.maxConcurrency).reduce(0, +))
        try await withThrowingTaskGroup(of: Outcome.self) { group in
            var buffer: [Job] = []
            var inFlight = 0
            var pending: [Outcome] = []
            var lastFlush = ContinuousClock.now
            func flush() async throws {
                guard !pending.isEmpty else { return }
                try await commit(pending)
                pending.removeAll(keepingCapacity: true)
                lastFlush = .now
            }
            while true {
                let stopping = runner.isFinished || Task.isCancelled
                if stopping {
                    try await queue.release(jobIDs: buffer.map(\.id), owner: owner)
                    buffer.removeAll()
                    if inFlight == 0 { break }
                }
                while !stopping && inFlight < limit {
                    if buffer.isEmpty {
                        buffer = try await queue.claim(
                            stage: .call, limit: limit, owner: owner, leaseSeconds: configuration.leaseSeconds,
                            now: Date().timeIntervalSince1970)
                        buffer.reverse()
                    }
                    guard let job = buffer.popLast() else { break }
                    inFlight += 1
                    group.addTask { await perform(job) }
                }
                if inFlight == 0 {
                    try await flush()
                    try? await Task.sleep(for: Self.idle)
                    continue
                }
                if let outcome = try await group.next() {
                    inFlight -= 1
                    pending.append(outcome)
                }
                if pending.count >= 64 || ContinuousClock.now - lastFlush > .milliseconds(20) || inFlight == 0 {
                    try await flush()
                }
            }
            try await flush()
        }
    }

    /// One call job: reuse a stored result, or wait for the scheduler's admission (and the budget's),
    /// send and classify.
    func perform(_ job: Job) async -> Outcome {
        let input: CallInput
        do {
            input = try job.decode(CallInput.self)
        } catch {
            return .failed(JobFailure(jobID: job.id, errorClass: .invalidJob, message: "\(error)", retryAt: nil))
        }
        let context: PipelineRunner.RunContext
        switch await self.context(of: job) {
        case .success(let known): context = known
        case .failure(let unworkable): return unworkable.outcome
        }
        let pipelineName = context.run.pipeline.name
        do {
            // A unit of work already paid for (same document content, chunk and pipeline) is not called again.
            if let stored = try await queue.unitResult(unitKey: input.unitKey),
                let record = try? JSONDecoder().decode(CallRecord.self, from: Data(stored))
            {
                runner.metrics.update { $0.reused += 1 }
                let reply = CallReply(input: input, record: record, pipeline: pipelineName, job: job)
                return .completed(JobCompletion(jobID: job.id, next: [try reply.line()], parts: try reply.parts()))
            }
            let pool = configuration.pool(named: context.run.pipeline.deployment)
            let admission: Scheduler.Admission
            do {
                // The charge is (prompt + max_tokens) × n: its max_tokens part is what the prompt is not.
                let n = max(1, context.run.pipeline.n)
                admission = try await scheduler.acquire(
                    from: pool, charge: input.charge, reservedOutput: max(0, input.charge - input.promptTokens * n))
            } catch let error as SchedulerError {
                // Every deployment this pipeline may use is stopped: leave the job for a later run.
                runner.stop(reason: error.message)
                return .released(job.id)
            }
            guard let deployment = configuration.deployments[admission.deployment] else {
                await scheduler.cancel(admission)
                return .failed(
                    JobFailure(
                        jobID: job.id, errorClass: .invalidJob,
                        message: "no deployment '\(admission.deployment)' is configured for pipeline '\(pipelineName)'",
                        retryAt: nil))
            }
            let pricing = runner.pricing(deployment: deployment.name, pipeline: context.run.pipeline)
            var reservation = 0.0
            if let budget = runner.budget {
                let maximum = pricing.maximumCost(input, n: context.run.pipeline.n)
                guard budget.reserve(maximum) else {
                    await scheduler.cancel(admission)
                    runner.stop(reason: budget.refusal(maximum))
                    return .released(job.id)
                }
                reservation = maximum
            }
            let outcome = await client.send(body: input.body, to: deployment, customID: input.customID)
            await scheduler.finish(admission, Self.report(outcome))
            let cost = outcome.usage.flatMap { pricing.cost(of: $0, servedModel: outcome.model) }
            runner.budget?.settle(reserved: reservation, spent: cost?.total ?? 0)
            // A call cut short by the stop is released; one that was answered is kept (it is paid for).
            if Task.isCancelled && outcome.errorClass != nil { return .released(job.id) }
            return try await classify(
                outcome, job: job, input: input, deployment: deployment, context: context, cost: cost,
                pricedModel: pricing.deployedModel)
        } catch is CancellationError {
            return .released(job.id)
        } catch {
            return .failed(JobFailure(jobID: job.id, errorClass: .invalidJob, message: "\(error)", retryAt: nil))
        }
    }

    private var client: ChatCompletionClient { runner.client }
    private var scheduler: Scheduler { runner.scheduler }

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

    private func classify(
        _ outcome: CallOutcome, job: Job, input: CallInput, deployment: Deployment,
        context: PipelineRunner.RunContext, cost: CostRecord?, pricedModel: String
    ) async throws -> Outcome {
        let attempts = job.attempts + 1
        runner.metrics.update { counters in
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
            body: outcome.body.map { String(decoding: $0, as: UTF8.self) }, errorCode: outcome.errorClass?.rawValue,
            errorMessage: outcome.message, deployment: deployment.name, model: outcome.model, attempts: attempts,
            latencyMilliseconds: Int(outcome.latencySeconds * 1000), usage: outcome.usage)
        if let served = outcome.servedBy, served != deployment.deployment { record.spilledTo = served }
        record.cost = cost
        let spend = outcome.usage.map { usage in
            Spend(
                runID: job.runID, document: input.document.path, deployment: deployment.name,
                model: outcome.model ?? pricedModel, promptTokens: usage.promptTokens,
                cachedTokens: usage.cachedTokens ?? 0, completionTokens: usage.completionTokens,
                reasoningTokens: usage.reasoningTokens ?? 0, cost: cost?.total)
        }
        let pipelineName = context.run.pipeline.name
        let now = Date().timeIntervalSince1970
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
                        runner.metrics.update { $0.invalidOutputs += 1 }
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
            runner.metrics.update { $0.succeeded += 1 }
            let result = try JSONEncoder.sluice.encode(reply.record)
            return .completed(
                JobCompletion(
                    jobID: job.id, next: [try reply.line()],
                    unitResult: UnitResult(unitKey: input.unitKey, result: result),
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
    ) throws -> Outcome {
        var record = record
        if !keepBody { record.body = nil }
        let pipelineName = contexts.cached(job.runID)?.run.pipeline.name ?? ""
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
            return .failure(SluiceError(.invalidOutput, "\(error)"))
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

/// A call's result on its way to the JSONL and, in map-reduce pipelines, to its reduce job.
struct CallReply {
    let input: CallInput
    var record: CallRecord
    let pipeline: String
    let job: Job
    /// The reply's message, when the client read it already.
    var content: String? = nil

    /// The assistant message of the reply's first choice.
    var text: String? {
        if let content { return content }
        guard let body = record.body,
            let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
            let choices = object["choices"] as? [[String: Any]],
            let message = choices.first?["message"] as? [String: Any]
        else { return nil }
        return message["content"] as? String
    }

    /// What this call and the calls before it (a reduce's inputs) cost.
    var cumulativeCost: Double { (input.inputsCost ?? 0) + (record.cost?.total ?? 0) }

    /// The collect job of the JSONL line.
    func line(suffix: String = "") throws -> NewJob {
        var line = CollectInput(
            document: input.document, chunk: input.chunk, chunks: input.chunks, customID: input.customID,
            pipeline: pipeline, record: record)
        line.headingPath = input.headingPath
        line.page = input.page
        line.reduce = input.reduce
        if input.reduce?.final == true { line.documentCost = cumulativeCost }
        return try NewJob(runID: job.runID, stage: .collect, key: job.key + suffix, encoding: line)
    }

    /// The part for the reduce job that waits for this result, if one does: the parsed JSON of a
    /// structured reply, else its text.
    func parts() throws -> [JobPart] {
        guard let delivery = input.delivery else { return [] }
        let part = ReducePart(index: delivery.part, text: record.output ?? text ?? "", cost: cumulativeCost)
        return [
            JobPart(
                runID: job.runID, key: delivery.key, part: delivery.part, payload: try JSONEncoder.sluice.encode(part))
        ]
    }
}
