import Call
import Chunk
import Collect
import Foundation
import Ingest
import Prompt
import Queue
import SluiceCore

/// The stage workers of one run.
struct Workers: Sendable {
    let runner: PipelineRunner
    let owner: String
    let contexts: RunContexts

    var queue: any JobQueue { runner.queue }
    var configuration: RunConfiguration { runner.configuration }
    static let idle = Duration.milliseconds(10)

    enum Outcome: Sendable {
        case completed(JobCompletion)
        case failed(JobFailure)
        case released(Int64)
    }

    // MARK: Ingest, chunk, prompt

    /// What a CPU stage's window hears: a job finished, or a tick (time to look for work and commit).
    private enum WindowEvent: Sendable {
        case finished(Outcome)
        case tick
    }

    /// Works a CPU-bound stage with a sliding window of `width` jobs in flight: jobs are claimed in
    /// batches into a local backlog, each finished job frees its slot for the next at once (one slow
    /// document holds one slot, not the batch), and outcomes are committed in batches — at
    /// `batchSize`, on every tick (`idle`) and when the window empties.
    func cpuStage(_ stage: Stage, width: Int) async throws {
        try await withThrowingTaskGroup(of: WindowEvent.self) { group in
            var backlog: [Job] = []
            var inFlight = 0
            var ticking = false
            var finished: [Outcome] = []
            while true {
                let stopping = runner.isFinished || Task.isCancelled
                if stopping {
                    // Claimed but not started: back to the queue at once.
                    if !backlog.isEmpty { try await queue.release(jobIDs: backlog.map(\.id), owner: owner) }
                    backlog = []
                } else if backlog.isEmpty && inFlight < width {
                    backlog = try await queue.claim(
                        stage: stage, limit: configuration.batchSize, owner: owner,
                        leaseSeconds: configuration.leaseSeconds, now: Date().timeIntervalSince1970)
                }
                while inFlight < width, !backlog.isEmpty {
                    let job = backlog.removeFirst()
                    group.addTask { .finished(await process(job)) }
                    inFlight += 1
                }
                if stopping && inFlight == 0 { break }
                // No ticks while stopping: a cancelled sleep returns at once and would spin.
                if !ticking && !stopping {
                    group.addTask {
                        try? await Task.sleep(for: Self.idle)
                        return .tick
                    }
                    ticking = true
                }
                switch try await group.next() {
                case .finished(let outcome)?:
                    finished.append(outcome)
                    inFlight -= 1
                    if finished.count >= configuration.batchSize || (inFlight == 0 && backlog.isEmpty) {
                        try await commit(finished)
                        finished = []
                    }
                case .tick?:
                    ticking = false
                    if !finished.isEmpty {
                        try await commit(finished)
                        finished = []
                    }
                case nil:
                    break
                }
            }
            if !finished.isEmpty { try await commit(finished) }
            group.cancelAll()
        }
    }

    func commit(_ outcomes: [Outcome]) async throws {
        var completions: [JobCompletion] = []
        var failures: [JobFailure] = []
        var released: [Int64] = []
        for outcome in outcomes {
            switch outcome {
            case .completed(let completion): completions.append(completion)
            case .failed(let failure): failures.append(failure)
            case .released(let id): released.append(id)
            }
        }
        let now = Date().timeIntervalSince1970
        try await queue.complete(completions, owner: owner, now: now)
        try await queue.fail(failures, owner: owner, now: now)
        try await queue.release(jobIDs: released, owner: owner)
    }

    /// An outcome given instead of working a job, as an error for `Result`.
    struct Unworkable: Error {
        let outcome: Outcome
    }

    /// The run context of a job; when there is none, what becomes of the job: released when the queue
    /// could not be read (it waits for the next claim), failed when its run cannot be worked here.
    func context(of job: Job) async -> Result<PipelineRunner.RunContext, Unworkable> {
        do {
            if let context = try await contexts.context(job.runID) { return .success(context) }
        } catch {
            return .failure(Unworkable(outcome: .released(job.id)))
        }
        return .failure(
            Unworkable(
                outcome: .failed(
                    JobFailure(
                        jobID: job.id, errorClass: .invalidJob,
                        message: "job \(job.id): \(contexts.problem(job.runID))", retryAt: nil))))
    }

    private func process(_ job: Job) async -> Outcome {
        let context: PipelineRunner.RunContext
        switch await self.context(of: job) {
        case .success(let known): context = known
        case .failure(let unworkable): return unworkable.outcome
        }
        let hash = context.run.pipelineHash
        do {
            switch job.stage {
            case .ingest:
                let input = try job.decode(IngestInput.self)
                let text: ChunkInput
                do {
                    text = try await TextExtractor.extract(
                        input, limits: TextExtractor.Limits(context.run.pipeline.selection)
                    ) { runner.logger.warning("\(Printable.escaped($0))") }
                } catch {
                    // Stopped part-way (the run is stopping): read again on resume, not a failure.
                    if error.cancelled { return .released(job.id) }
                    return .failed(
                        JobFailure(jobID: job.id, errorClass: .unreadableDocument, message: error.message, retryAt: nil)
                    )
                }
                let next = try NewJob(
                    runID: job.runID, stage: .chunk, key: JobKey.document(input.document, pipelineHash: hash),
                    encoding: text)
                return .completed(JobCompletion(jobID: job.id, next: [next]))
            case .chunk:
                let input = try job.decode(ChunkInput.self)
                let chunks = Self.promptInputs(input, chunker: context.chunker)
                var next = try chunks.map { chunk in
                    try NewJob(
                        runID: job.runID, stage: .prompt,
                        key: JobKey.chunk(input.document, pipelineHash: hash, index: chunk.chunk), encoding: chunk)
                }
                // Map-reduce: the document's reduce job waits for one part per chunk.
                if context.run.pipeline.reduce != nil && !chunks.isEmpty {
                    next.append(
                        try NewJob(
                            runID: job.runID, stage: .reduce,
                            key: JobKey.reduce(input.document, pipelineHash: hash, level: 0),
                            encoding: ReduceInput(document: input.document, level: 0, chunks: chunks.count),
                            parts: chunks.count))
                }
                return .completed(JobCompletion(jobID: job.id, next: next))
            case .prompt:
                let input = try job.decode(PromptInput.self)
                let call = try context.call(for: input)
                if let overflow = context.overflow(call) {
                    return try overflowed(job, call, context: context, message: overflow)
                }
                let next = try NewJob(runID: job.runID, stage: .call, key: job.key, encoding: call)
                return .completed(JobCompletion(jobID: job.id, next: [next]))
            case .reduce:
                return try reduce(job, context: context)
            case .call, .collect:
                return .failed(
                    JobFailure(jobID: job.id, errorClass: .invalidJob, message: "not a CPU stage", retryAt: nil))
            }
        } catch {
            return .failed(JobFailure(jobID: job.id, errorClass: .invalidJob, message: "\(error)", retryAt: nil))
        }
    }

    /// A document's chunks, each with the heading path and page where it starts.
    static func promptInputs(_ input: ChunkInput, chunker: Chunker) -> [PromptInput] {
        let chunks = chunker.chunks(input.text)
        let format = (input.document.path as NSString).pathExtension.lowercased()
        let outline = DocumentOutline(text: input.text, format: format)
        return chunks.enumerated().map { index, chunk in
            let position = outline.position(at: chunk.offset)
            return PromptInput(
                document: input.document, chunk: index, chunks: chunks.count, text: chunk.text, tokens: chunk.tokens,
                headingPath: position.headingPath.isEmpty ? nil : position.headingPath, page: position.page)
        }
    }

    // MARK: Collect

    /// Appends result lines in batches and commits the file length with the jobs.
    ///
    /// - Parameter drain: Write what is ready and return (after the other stages stopped).
    func collectStage(_ output: OutputBox, drain: Bool = false) async throws {
        while true {
            let jobs = try await queue.claim(
                stage: .collect, limit: 512, owner: owner, leaseSeconds: configuration.leaseSeconds,
                now: Date().timeIntervalSince1970)
            if jobs.isEmpty {
                if drain || runner.isFinished || Task.isCancelled { return }
                try? await Task.sleep(for: Self.idle)
                continue
            }
            var bytes: [UInt8] = []
            var written: [Int64] = []
            var failures: [JobFailure] = []
            for job in jobs {
                do {
                    bytes += ResultLine.make(try job.decode(CollectInput.self))
                    written.append(job.id)
                } catch {
                    failures.append(
                        JobFailure(jobID: job.id, errorClass: .invalidJob, message: "\(error)", retryAt: nil))
                }
            }
            try output.file.append(bytes)
            try await queue.commitCollected(
                jobIDs: written, owner: owner, path: output.file.path, length: output.file.length,
                now: Date().timeIntervalSince1970)
            try await queue.fail(failures, owner: owner, now: Date().timeIntervalSince1970)
            runner.metrics.update { $0.linesWritten += written.count }
        }
    }
}
