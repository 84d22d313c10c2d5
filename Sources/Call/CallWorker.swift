import Catalog
import Foundation
import Queue
import Scheduler
import ServiceLifecycle
import SluiceCore

/// The call stage: sends a chunk's (or a reduce's) request to a deployment the scheduler admits it
/// to, within the budget, and classifies the answer: a result line, a retry, or a failure for good.
///
/// A unit of work already paid for (same document content, chunk and pipeline) is answered from the
/// stored result, never sent twice.
public struct CallWorker: StageWorker {
    public var stage: Stage { .call }

    /// What the stage needs of a run: its pipeline, and the schema replies must match.
    struct RunReplies: Sendable {
        let run: RunRecord
        let schema: JSONSchema?
    }

    let configuration: CallConfiguration
    let queue: any JobQueue
    let client: ChatCompletionClient
    let scheduler: Scheduler
    let budget: Budget?
    let counters: RunCounters
    let stop: @Sendable (String) -> Void
    let runs: RunContexts<RunReplies>
    /// The worker's lease owner id (a shared budget's reservations are its).
    let owner: String
    /// Where calls for batch deployments go (nil: no batch deployment is configured).
    let lane: BatchLane?

    /// - Parameters:
    ///   - budget: `--max-cost`, when set: a call that could pass it is not sent, and the run stops.
    ///   - counters: Where calls, tokens and cost are counted.
    ///   - stop: Ends the run early with a reason (every deployment stopped, the budget reached).
    ///   - owner: The worker's lease owner id.
    public init(
        configuration: CallConfiguration, queue: any JobQueue, client: ChatCompletionClient, scheduler: Scheduler,
        budget: Budget?, counters: RunCounters, owner: String, lane: BatchLane? = nil,
        stop: @escaping @Sendable (String) -> Void
    ) {
        self.owner = owner
        self.lane = lane
        self.configuration = configuration
        self.queue = queue
        self.client = client
        self.scheduler = scheduler
        self.budget = budget
        self.counters = counters
        self.stop = stop
        runs = RunContexts(queue: queue) { run in
            var schema: JSONSchema?
            if case .jsonSchema(_, let text, _)? = run.pipeline.responseFormat { schema = try JSONSchema(text: text) }
            return RunReplies(run: run, schema: schema)
        }
    }

    /// A call job's input with its request body, and its run's context.
    enum Prepared {
        case ready(CallInput, RunReplies)
        /// The job cannot be worked: this is its outcome.
        case unworkable(JobOutcome)
    }

    /// Reads a call job: its input, its request body (the job's bytes) and its run's context.
    func prepared(_ job: Job) async -> Prepared {
        var input: CallInput
        do {
            input = try job.decode(CallInput.self)
        } catch {
            return .unworkable(.invalid(job, "\(error)"))
        }
        guard let body = job.body, !body.isEmpty else {
            return .unworkable(.invalid(job, "call job \(job.id) (\(job.key)) has no request body"))
        }
        input.body = body
        switch await runs.context(of: job) {
        case .success(let context): return .ready(input, context)
        case .failure(let unworkable): return .unworkable(unworkable.outcome)
        }
    }

    /// One call job: reuse a stored result, or wait for the scheduler's admission (and the budget's),
    /// send and classify.
    public func process(_ job: Job) async -> JobOutcome {
        let (input, context): (CallInput, RunReplies)
        switch await prepared(job) {
        case .ready(let known, let run): (input, context) = (known, run)
        case .unworkable(let outcome): return outcome
        }
        let pipelineName = context.run.pipeline.name
        do {
            // A unit of work already paid for (same document content, chunk and pipeline) is not called again.
            if let stored = try await queue.unitResult(unitKey: input.unitKey), let record = try? stored.record() {
                counters.update { $0.reused += 1 }
                let reply = CallReply(input: input, record: record, pipeline: pipelineName, job: job)
                return .completed(JobCompletion(jobID: job.id, next: [try reply.line()], parts: try reply.parts()))
            }
            let named = configuration.pool(context.run.pipeline.deployment)
            // Batch deployments go through the batch lane; the scheduler paces the others.
            let pool = named.filter { lane?.settings[$0] == nil }
            if let lane, pool.count < named.count,
                let handed = try await handOver(
                    job, input: input, to: named.filter { lane.settings[$0] != nil }, lane: lane, online: pool,
                    context: context)
            {
                return handed
            }
            let admission: Scheduler.Admission
            do {
                // The charge is (prompt + max_tokens) × n: its max_tokens part is what the prompt is not.
                let n = max(1, context.run.pipeline.n)
                // Waiting for admission ends with graceful shutdown: the job is not sent, and is released.
                let (charge, reserved) = (input.charge, max(0, input.charge - input.promptTokens * n))
                admission = try await cancelWhenGracefulShutdown { [scheduler] in
                    try await scheduler.acquire(from: pool, charge: charge, reservedOutput: reserved)
                }
            } catch let error as SchedulerError {
                // Every deployment this pipeline may use is stopped: leave the job for a later run.
                stop(error.message)
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
            let pricing = configuration.pricing(deployment: deployment.name, pipeline: context.run.pipeline)
            var reservation = 0.0
            if let budget {
                let maximum = pricing.maximumCost(input, n: context.run.pipeline.n)
                guard try await budget.reserve(maximum, jobID: job.id, owner: owner) else {
                    await scheduler.cancel(admission)
                    stop(await budget.refusal(maximum))
                    return .released(job.id)
                }
                reservation = maximum
            }
            let outcome = await client.send(body: input.body, to: deployment, customID: input.customID)
            await scheduler.finish(admission, Self.report(outcome))
            let cost = outcome.usage.flatMap { pricing.cost(of: $0, servedModel: outcome.model) }
            try await budget?.settle(reserved: reservation, spent: cost?.total ?? 0, jobID: job.id)
            // A call cut short by the stop is released; one that was answered is kept (it is paid for).
            if Task.isCancelled && outcome.errorClass != nil { return .released(job.id) }
            return try await classify(
                outcome, job: job, input: input, deployment: deployment, context: context, cost: cost,
                pricedModel: pricing.deployedModel)
        } catch is CancellationError {
            return .released(job.id)
        } catch {
            return .invalid(job, "\(error)")
        }
    }
}
