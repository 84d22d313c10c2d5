import Foundation
import Queue
import SluiceCore
import Tokenizer

/// The chunk stage: cuts a document's text into chunks, one prompt job each (and, in map-reduce
/// pipelines, the document's reduce job that waits for their results).
package struct ChunkWorker: StageWorker {
    package var stage: Stage { .chunk }

    /// What the stage needs of a run: its chunker, and whether its results are reduced.
    struct RunTools: Sendable {
        let run: RunRecord
        let chunker: Chunker
    }

    private let runs: RunContexts<RunTools>

    /// A worker that reads its runs' pipelines from `queue`.
    package init(queue: any JobQueue) {
        runs = RunContexts(queue: queue) { run in
            RunTools(run: run, chunker: Chunker(pipeline: run.pipeline))
        }
    }

    package func process(_ job: Job) async -> JobOutcome {
        let tools: RunTools
        switch await runs.context(of: job) {
        case .success(let known): tools = known
        case .failure(let unworkable): return unworkable.outcome
        }
        let hash = tools.run.pipelineHash
        do {
            let input = try job.decode(ChunkInput.self)
            let chunks = Self.promptInputs(input, chunker: tools.chunker)
            var next = try chunks.map { chunk in
                try NewJob(
                    runID: job.runID, stage: .prompt,
                    key: JobKey.chunk(input.document, pipelineHash: hash, index: chunk.chunk), encoding: chunk)
            }
            // Map-reduce: the document's reduce job waits for one part per chunk.
            if tools.run.pipeline.reduce != nil && !chunks.isEmpty {
                next.append(
                    try NewJob(
                        runID: job.runID, stage: .reduce,
                        key: JobKey.reduce(input.document, pipelineHash: hash, level: 0),
                        encoding: ReduceInput(document: input.document, level: 0, chunks: chunks.count),
                        parts: chunks.count))
            }
            return .completed(JobCompletion(jobID: job.id, next: next))
        } catch {
            return .invalid(job, "\(error)")
        }
    }

    /// A document's chunks, each with the heading path and page where it starts.
    package static func promptInputs(_ input: ChunkInput, chunker: Chunker) -> [PromptInput] {
        let chunks = chunker.chunks(TextBlock.text(of: input.blocks))
        let outline = DocumentOutline(blocks: input.blocks)
        return chunks.enumerated().map { index, chunk in
            let position = outline.position(at: chunk.offset)
            return PromptInput(
                document: input.document, chunk: index, chunks: chunks.count, text: chunk.text, tokens: chunk.tokens,
                headingPath: position.headingPath.isEmpty ? nil : position.headingPath, page: position.page)
        }
    }
}

extension Chunker {
    /// The chunker a pipeline's `chunking` section and model's encoding make.
    package init(pipeline: PipelineDefinition) {
        self.init(
            encoding: .encoding(ModelEncoding.resolve(model: pipeline.model).encoding),
            maxTokens: pipeline.chunking.maxTokens, overlapTokens: pipeline.chunking.overlapTokens)
    }
}
