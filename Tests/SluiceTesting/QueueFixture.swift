import Queue
import SluiceCore

/// A queue database in a temporary directory with one run of a one-message pipeline.
public struct QueueFixture: Sendable {
    public let directory: TemporaryDirectory
    public let queue: SQLiteJobQueue
    public let run: RunRecord

    /// A one-message pipeline.
    public static let pipeline = PipelineDefinition(
        name: "p", model: "gpt-4o", messages: [.init(role: "user", template: "{{chunk.text}}")], maxTokens: 10,
        chunking: .init(maxTokens: 100, overlapTokens: 0))

    public init() async throws {
        directory = try TemporaryDirectory()
        queue = try SQLiteJobQueue(path: directory.file("queue.db"))
        run = try await queue.run(root: "/data", pipeline: Self.pipeline, pipelineHash: "abc123")
    }
}

/// A queue backend the backend-neutral tests run on.
public enum QueueBackend: String, Sendable, CaseIterable, CustomStringConvertible {
    case sqlite, postgres

    public var description: String { rawValue }

    /// SQLite always; PostgreSQL where it runs (always in CI).
    public static var available: [QueueBackend] {
        if PostgresTestServer.available { return allCases }
        print("PostgreSQL tests skipped: no PostgreSQL here (set SLUICE_TEST_POSTGRES_URL, or install postgresql)")
        return [.sqlite]
    }

    /// A fresh queue (a temporary file, or a new database on the test server) with one run.
    public func fixture() async throws -> BackendFixture {
        let directory = try TemporaryDirectory()
        let queue: any JobQueue
        switch self {
        case .sqlite: queue = try SQLiteJobQueue(path: directory.file("queue.db"))
        case .postgres: queue = try await PostgresJobQueue(location: try await PostgresTestServer.shared.database())
        }
        let run = try await queue.run(root: "/data", pipeline: QueueFixture.pipeline, pipelineHash: "abc123")
        return BackendFixture(directory: directory, queue: queue, run: run)
    }
}

/// A queue of either backend with one run.
public struct BackendFixture: Sendable {
    public let directory: TemporaryDirectory
    public let queue: any JobQueue
    public let run: RunRecord

    /// Closes a PostgreSQL queue's connections.
    public func close() async {
        if let postgres = queue as? PostgresJobQueue { await postgres.close() }
    }
}
