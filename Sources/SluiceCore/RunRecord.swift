/// A run: a root directory processed with one pipeline.
public struct RunRecord: Sendable, Hashable {
    public var id: Int64
    public var root: String
    public var pipeline: PipelineDefinition
    public var pipelineHash: String

    public init(id: Int64, root: String, pipeline: PipelineDefinition, pipelineHash: String) {
        self.id = id
        self.root = root
        self.pipeline = pipeline
        self.pipelineHash = pipelineHash
    }
}
