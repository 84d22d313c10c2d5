import Call
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

    /// One call job: reuse a stored result, or wait for the scheduler's admission, send and classify.
    func perform(_ job: Job) async -> Outcome {
        let input: CallInput
        do {
            input = try job.decode(CallInput.self)
        } catch {
            return .failed(JobFailure(jobID: job.id, errorClass: .invalidJob, message: "\(error)", retryAt: nil))
        }
        guard let context = contexts[job.runID] else {
            return .failed(
                JobFailure(jobID: job.id, errorClass: .invalidJob, message: "unknown run \(job.runID)", retryAt: nil))
        }
        let pipelineName = context.run.pipeline.name
        func collect(_ record: CallRecord, suffix: String = "") throws -> NewJob {
            var line = CollectInput(
                document: input.document, chunk: input.chunk, chunks: input.chunks, customID: input.customID,
                pipeline: pipelineName, record: record)
            line.headingPath = input.headingPath
            line.page = input.page
            return try NewJob(runID: job.runID, stage: .collect, key: job.key + suffix, encoding: line)
        }
        do {
            // A unit of work already paid for (same document content, chunk and pipeline) is not called again.
            if let stored = try await queue.unitResult(unitKey: input.unitKey),
                let record = try? JSONDecoder().decode(CallRecord.self, from: Data(stored))
            {
                runner.metrics.update { $0.reused += 1 }
                return .completed(JobCompletion(jobID: job.id, next: [try collect(record)]))
            }
            let pool = configuration.pool(named: context.run.pipeline.deployment)
            let admission: Scheduler.Admission
            do {
                admission = try await scheduler.acquire(
                    from: pool, charge: input.charge, reservedOutput: max(0, input.charge - input.promptTokens))
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
            let outcome = await client.send(body: input.body, to: deployment, customID: input.customID)
            await scheduler.finish(admission, Self.report(outcome))
            if Task.isCancelled { return .released(job.id) }
            return try await classify(outcome, job: job, input: input, deployment: deployment, collect: collect)
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
        case .serverError, .timeout, .connection, .invalidResponse: result = .failed
        default: result = .answered  // success, or a client error that says nothing about the deployment
        }
        return CallReport(
            result: result, latencySeconds: outcome.latencySeconds, promptTokens: outcome.usage?.promptTokens ?? 0,
            completionTokens: outcome.usage?.completionTokens ?? 0, remainingTokens: outcome.remainingTokens,
            remainingRequests: outcome.remainingRequests, limitTokens: outcome.limitTokens,
            utilization: outcome.utilization)
    }

    private func classify(
        _ outcome: CallOutcome, job: Job, input: CallInput, deployment: Deployment,
        collect: (CallRecord, String) throws -> NewJob
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
            }
        }
        var record = CallRecord(
            statusCode: outcome.statusCode, requestID: outcome.requestID,
            body: outcome.body.map { String(decoding: $0, as: UTF8.self) }, errorCode: outcome.errorClass?.rawValue,
            errorMessage: outcome.message, deployment: deployment.name, model: outcome.model, attempts: attempts,
            latencyMilliseconds: Int(outcome.latencySeconds * 1000), usage: outcome.usage)
        if let served = outcome.servedBy, served != deployment.deployment { record.spilledTo = served }
        let now = Date().timeIntervalSince1970
        guard let errorClass = outcome.errorClass else {
            runner.metrics.update { $0.succeeded += 1 }
            let result = try JSONEncoder.sluice.encode(record)
            return .completed(
                JobCompletion(
                    jobID: job.id, next: [try collect(record, "")],
                    unitResult: UnitResult(unitKey: input.unitKey, result: result)))
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
                    retryAt: now + delay))
        }
        // Only a 200 whose output was filtered keeps its body in the error line.
        if record.statusCode != 200 { record.body = nil }
        return .failed(
            JobFailure(
                jobID: job.id, errorClass: errorClass, message: record.errorMessage ?? errorClass.rawValue,
                retryAt: nil,
                next: [try collect(record, "!failed-\(attempts)-\(job.rateLimited)")]))
    }
}
