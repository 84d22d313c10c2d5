import Call
import Foundation
import Queue
import SluiceCore

extension Workers {
    /// Keeps up to each deployment's concurrency of calls in flight, committing results in batches.
    func callStage() async throws {
        let limit = max(1, configuration.deployments.values.map(\.maxConcurrency).reduce(0, +))
        var pacers: [String: RatePacer] = [:]
        for (name, deployment) in configuration.deployments {
            pacers[name] = RatePacer(
                tokensPerMinute: deployment.tokensPerMinute, requestsPerMinute: deployment.requestsPerMinute)
        }
        let slots = DeploymentSlots(configuration.deployments)
        let pacerTable = pacers
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
                    group.addTask { await perform(job, slots: slots, pacers: pacerTable) }
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

    /// One call job: reuse a stored result, or pace, send and classify.
    func perform(_ job: Job, slots: DeploymentSlots, pacers: [String: RatePacer]) async -> Outcome {
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
            let name =
                context.run.pipeline.deployment.flatMap { configuration.deployments[$0] != nil ? $0 : nil }
                ?? configuration.defaultDeployment ?? configuration.deployments.keys.sorted().first ?? ""
            guard let deployment = configuration.deployments[name] else {
                return .failed(
                    JobFailure(
                        jobID: job.id, errorClass: .invalidJob,
                        message: "no deployment '\(name)' is configured for pipeline '\(pipelineName)'", retryAt: nil))
            }
            try await slots.acquire(name)
            defer { slots.release(name) }
            try await pacers[name]?.admit(charge: input.charge)
            let outcome = await client.send(body: input.body, to: deployment, customID: input.customID)
            if Task.isCancelled { return .released(job.id) }
            return try await classify(
                outcome, job: job, input: input, deployment: deployment, pacer: pacers[name], collect: collect)
        } catch is CancellationError {
            return .released(job.id)
        } catch {
            return .failed(JobFailure(jobID: job.id, errorClass: .invalidJob, message: "\(error)", retryAt: nil))
        }
    }

    private var client: ChatCompletionClient { runner.client }

    private func classify(
        _ outcome: CallOutcome, job: Job, input: CallInput, deployment: Deployment, pacer: RatePacer?,
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
            let wait = outcome.retryAfter ?? 1
            if wait <= configuration.retry.maxRetryAfterSeconds {
                await pacer?.pause(seconds: wait)
                return .failed(
                    JobFailure(
                        jobID: job.id, errorClass: .rateLimited, message: outcome.message ?? "HTTP 429",
                        retryAt: now + wait, countsAsAttempt: false))
            }
            record.errorMessage =
                "\(outcome.message ?? "HTTP 429"); retry-after \(Int(wait)) s is longer than the \(Int(configuration.retry.maxRetryAfterSeconds)) s cap (quota exhausted?)"
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

/// Caps requests in flight per deployment.
final class DeploymentSlots: Sendable {
    private let semaphores: [String: AsyncSemaphore]

    init(_ deployments: [String: Deployment]) {
        semaphores = deployments.mapValues { AsyncSemaphore(value: max(1, $0.maxConcurrency)) }
    }

    func acquire(_ name: String) async throws { try await semaphores[name]?.wait() }
    func release(_ name: String) { semaphores[name]?.signal() }
}
