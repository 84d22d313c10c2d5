import Foundation
import Logging
import Queue
import SluiceCore

/// The ingest stage: reads a document's file and hands its text to the chunk stage.
package struct IngestWorker: StageWorker {
    package var stage: Stage { .ingest }
    private let runs: RunContexts<RunRecord>
    private let logger: Logger

    /// - Parameter logger: Where a document's warnings go (bad bytes replaced, a link skipped).
    package init(queue: any JobQueue, logger: Logger) {
        runs = RunContexts(queue: queue) { $0 }
        self.logger = logger
    }

    package func process(_ job: Job) async -> JobOutcome {
        let run: RunRecord
        switch await runs.context(of: job) {
        case .success(let known): run = known
        case .failure(let unworkable): return unworkable.outcome
        }
        do {
            let input = try job.decode(IngestInput.self)
            let text: ChunkInput
            do {
                text = try await TextExtractor.extract(input, limits: TextExtractor.Limits(run.pipeline.selection)) {
                    logger.warning("\(Printable.escaped($0))")
                }
            } catch {
                // Stopped part-way (the run is stopping): read again on resume, not a failure.
                if error.cancelled { return .released(job.id) }
                let failure = JobFailure(
                    jobID: job.id, errorClass: .unreadableDocument, message: error.message, retryAt: nil)
                // Missing or different here: a worker of another host may have it (the queue fails it
                // once every live worker's host has tried).
                return error.pathUnreadable ? .passedOn(failure) : .failed(failure)
            }
            let next = try NewJob(
                runID: job.runID, stage: .chunk, key: JobKey.document(input.document, pipelineHash: run.pipelineHash),
                encoding: text)
            return .completed(JobCompletion(jobID: job.id, next: [next]))
        } catch {
            return .invalid(job, "\(error)")
        }
    }
}
