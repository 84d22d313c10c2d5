import Catalog
import PromptRendering
import Queue
import SluiceCore

/// The prompt stage: renders a chunk's request and hands it to the call stage (or fails it when it
/// cannot fit the model's context).
package struct PromptWorker: StageWorker {
    package var stage: Stage { .prompt }
    private let runs: RunContexts<RunPrompts>

    /// - Parameter catalog: What models are: their context windows.
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
            let input = try job.decode(PromptInput.self)
            let call = try prompts.call(for: input)
            if let failure = try prompts.overflowed(job, call) { return .failed(failure) }
            let next = try NewJob(runID: job.runID, key: job.key, call: call)
            return .completed(JobCompletion(jobID: job.id, next: [next]))
        } catch {
            return .invalid(job, "\(error)")
        }
    }
}
