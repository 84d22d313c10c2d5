/// A run: a root directory processed with one pipeline.
public struct RunRecord: Sendable, Hashable {
    /// The queue's id.
    public var id: Int64
    /// The enqueued folder (absolute).
    public var root: String
    /// The pipeline definition.
    public var pipeline: PipelineDefinition
    /// The pipeline's identity.
    public var pipelineHash: String

    /// Creates it from its fields.
    public init(id: Int64, root: String, pipeline: PipelineDefinition, pipelineHash: String) {
        self.id = id
        self.root = root
        self.pipeline = pipeline
        self.pipelineHash = pipelineHash
    }
}
