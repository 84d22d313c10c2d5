import Catalog
import SluiceCore

/// What the prompt and reduce stages need of a run: its renderer, and the model's context window to
/// check requests against before they are sent.
package struct RunPrompts: Sendable {
    /// The run.
    package let run: RunRecord
    /// Its pipeline's renderer.
    package let renderer: PromptRenderer
    /// Nil when the catalog does not know the model (requests are not checked).
    package let fit: ContextFit?

    /// - Parameter catalog: Knows the pipeline model's context window (a model it does not know is
    ///   not checked).
    /// - Throws: ``SluiceError`` when a template does not parse.
    package init(run: RunRecord, catalog: ModelCatalog) throws {
        self.run = run
        renderer = try PromptRenderer(pipeline: run.pipeline, pipelineHash: run.pipelineHash)
        let facts = catalog.facts(for: run.pipeline.model)
        fit = facts.map { ContextFit(contextWindow: $0.contextWindow, model: $0.name, n: run.pipeline.n) }
    }

    /// A chunk's call: the rendered request, delivered to the document's reduce in map-reduce pipelines.
    package func call(for input: PromptInput) throws -> CallInput {
        var call = try renderer.render(input)
        if run.pipeline.reduce != nil {
            call.delivery = PartDelivery(
                key: JobKey.reduce(input.document, pipelineHash: run.pipelineHash, level: 0), part: input.chunk)
        }
        return call
    }

    /// The outcome for a request that does not fit the model's context, or nil when it fits.
    package func overflowed(_ job: Job, _ call: CallInput) throws -> JobFailure? {
        guard let message = fit?.overflow(call) else { return nil }
        return try ContextFit.failure(job, call, pipeline: run.pipeline.name, message: message)
    }
}
