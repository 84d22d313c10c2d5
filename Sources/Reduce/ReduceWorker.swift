import Catalog
import Foundation
import PromptRendering
import Queue
import SluiceCore

/// The reduce stage (map-reduce pipelines): once every part of a document has its result, renders the
/// reduce prompt over them, in groups and levels when they do not fit one request.
package struct ReduceWorker: StageWorker {
    package var stage: Stage { .reduce }
    private let runs: RunContexts<RunPrompts>

    /// - Parameter catalog: What models are: their context windows bound a reduce prompt.
    package init(queue: any JobQueue, catalog: ModelCatalog) {
        runs = RunContexts(queue: queue) { run in try RunPrompts(run: run, catalog: catalog) }
    }

    package func process(_ job: Job) async -> JobOutcome {
        let prompts: RunPrompts
        switch await runs.context(of: job) {
        case .success(let known): prompts = known
        case .failure(let unworkable): return unworkable.outcome
        }
        do {
            return try reduce(job, prompts: prompts)
        } catch {
            return .invalid(job, "\(error)")
        }
    }

    /// A reduce job whose parts are all in: one final call when they fit the reduce prompt's limit,
    /// otherwise one call per group of parts that fits, and a reduce job one level up that waits for them.
    func reduce(_ job: Job, prompts: RunPrompts) throws -> JobOutcome {
        let input = try job.decode(ReduceInput.self)
        let pipeline = prompts.run.pipeline
        let hash = prompts.run.pipelineHash
        var parts: [ReducePart] = []
        for data in job.parts {
            do {
                parts.append(try JSONDecoder().decode(ReducePart.self, from: data))
            } catch {
                throw SluiceError(
                    .corruptJob, "reduce job \(job.id) (\(job.key)): unreadable part: \(error)", cause: error)
            }
        }
        parts.sort { $0.index < $1.index }
        let maxTokens = pipeline.reduce?.maxTokens ?? pipeline.maxTokens
        let limit =
            pipeline.reduce?.maxInputTokens ?? prompts.fit.map { $0.contextWindow - maxTokens } ?? Int.max
        let renderer = prompts.renderer
        func call(_ group: [ReducePart], _ step: ReduceStep) -> CallInput {
            var call = renderer.renderReduce(
                document: input.document, chunks: input.chunks, parts: group, step: step)
            call.inputsCost = group.reduce(0.0) { $0 + ($1.cost ?? 0) }
            return call
        }
        let whole = call(parts, ReduceStep(level: input.level, group: 0, groups: 1, final: true))
        if whole.promptTokens <= limit || parts.count < 2 {
            if let failure = try prompts.overflowed(job, whole) { return .failed(failure) }
            let next = try NewJob(
                runID: job.runID,
                key: JobKey.reduceCall(input.document, pipelineHash: hash, level: input.level, group: 0),
                call: whole)
            return .completed(JobCompletion(jobID: job.id, next: [next], consumesParts: true))
        }
        /// The document cannot be reduced within the limit: a terminal failure that says why.
        func refused(_ reason: String) -> JobOutcome {
            .failed(
                JobFailure(
                    jobID: job.id, errorClass: .contextOverflow,
                    message: "\(input.document.path): reduce level \(input.level): \(reason)", retryAt: nil))
        }
        // Too long for one call: group the parts in order, as many per group as fit.
        let empty = call([], ReduceStep(level: input.level, group: 0, groups: 2, final: false)).promptTokens
        var groups: [[ReducePart]] = [[]]
        var used = empty
        var smallest = Int.max
        for part in parts {
            let alone = call([part], ReduceStep(level: input.level, group: 0, groups: 2, final: false)).promptTokens
            let size = alone - empty
            smallest = min(smallest, size)
            if alone > limit {
                return refused(
                    "result \(part.index + 1) alone makes a \(alone)-token prompt, over the reduce limit of \(limit) (lower max_tokens, or raise reduce.max_input_tokens)"
                )
            }
            if used + size > limit, let last = groups.last, !last.isEmpty {
                groups.append([])
                used = empty
            }
            groups[groups.count - 1].append(part)
            used += size
        }
        if groups.count == 1, let only = groups.first {
            // Counted apart, the parts fit; rendered together they do not: halve.
            groups = [Array(only.prefix(only.count / 2)), Array(only.dropFirst(only.count / 2))]
        }
        guard groups.count < parts.count || smallest > maxTokens else {
            // One result per group, and no result longer than a reduce reply: another level would be
            // the same again.
            return refused(
                "no two results fit one \(limit)-token reduce prompt (raise reduce.max_input_tokens, or lower max_tokens)"
            )
        }
        let up = JobKey.reduce(input.document, pipelineHash: hash, level: input.level + 1)
        var next: [NewJob] = [
            try NewJob(
                runID: job.runID, stage: .reduce, key: up,
                encoding: ReduceInput(document: input.document, level: input.level + 1, chunks: input.chunks),
                parts: groups.count)
        ]
        for (index, group) in groups.enumerated() {
            var request = call(
                group, ReduceStep(level: input.level, group: index, groups: groups.count, final: false))
            request.delivery = PartDelivery(key: up, part: index)
            next.append(
                try NewJob(
                    runID: job.runID,
                    key: JobKey.reduceCall(input.document, pipelineHash: hash, level: input.level, group: index),
                    call: request))
        }
        return .completed(JobCompletion(jobID: job.id, next: next, consumesParts: true))
    }
}
