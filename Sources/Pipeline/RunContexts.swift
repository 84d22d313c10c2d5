import Catalog
import Chunk
import Prompt
import Queue
import SluiceCore
import Synchronization

/// The runs of the queue a worker knows, with their tools. A job of a run enqueued after this one
/// started (`sluice enqueue` while it works) loads that run from the queue on first sight.
final class RunContexts: Sendable {
    private let queue: any JobQueue
    private let catalog: ModelCatalog
    private let known = Mutex<[Int64: PipelineRunner.RunContext]>([:])
    /// Runs whose pipeline cannot be used here, with the reason.
    private let unusable = Mutex<[Int64: String]>([:])

    init(queue: any JobQueue, catalog: ModelCatalog) {
        self.queue = queue
        self.catalog = catalog
    }

    /// The context of a run, loading runs new to this process when it is not known yet.
    func context(_ runID: Int64) async throws -> PipelineRunner.RunContext? {
        if let context = cached(runID) { return context }
        // Known to be unusable: not looked up again for each of its jobs.
        if unusable.withLock({ $0[runID] != nil }) { return nil }
        try await load()
        return cached(runID)
    }

    /// The context of a run if already loaded.
    func cached(_ runID: Int64) -> PipelineRunner.RunContext? { known.withLock { $0[runID] } }

    /// Why a run's jobs cannot be worked: its pipeline cannot be used, or no such run.
    func problem(_ runID: Int64) -> String {
        unusable.withLock { $0[runID] }.map { "run \(runID): \($0)" } ?? "unknown run \(runID)"
    }

    /// Loads the runs not known yet (one whose pipeline cannot be used is noted, not thrown: its jobs fail
    /// with the reason, and the other runs go on).
    func load() async throws {
        let noted = unusable.withLock { Set($0.keys) }
        for run in try await queue.runs() where cached(run.id) == nil && !noted.contains(run.id) {
            do {
                let context = try Self.context(of: run, catalog: catalog)
                known.withLock { $0[run.id] = context }
            } catch {
                unusable.withLock { $0[run.id] = "its pipeline \(run.pipeline.name) cannot be used: \(error)" }
            }
        }
    }

    private static func context(of run: RunRecord, catalog: ModelCatalog) throws -> PipelineRunner.RunContext {
        let renderer = try PromptRenderer(pipeline: run.pipeline, pipelineHash: run.pipelineHash)
        let chunker = Chunker(
            encoding: renderer.encoding, maxTokens: run.pipeline.chunking.maxTokens,
            overlapTokens: run.pipeline.chunking.overlapTokens)
        var schema: JSONSchema?
        if case .jsonSchema(_, let text, _)? = run.pipeline.responseFormat { schema = try JSONSchema(text: text) }
        return PipelineRunner.RunContext(
            run: run, renderer: renderer, chunker: chunker, facts: catalog.facts(for: run.pipeline.model),
            schema: schema)
    }
}
