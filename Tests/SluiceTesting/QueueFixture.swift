import Queue
import SluiceCore

/// A queue database in a temporary directory with one run of a one-message pipeline.
public struct QueueFixture: Sendable {
    public let directory: TemporaryDirectory
    public let queue: SQLiteJobQueue
    public let run: RunRecord

    public init() async throws {
        directory = try TemporaryDirectory()
        queue = try SQLiteJobQueue(path: directory.file("queue.db"))
        let pipeline = PipelineDefinition(
            name: "p", model: "gpt-4o", messages: [.init(role: "user", template: "{{chunk.text}}")], maxTokens: 10,
            chunking: .init(maxTokens: 100, overlapTokens: 0))
        run = try await queue.run(root: "/data", pipeline: pipeline, pipelineHash: "abc123")
    }
}
