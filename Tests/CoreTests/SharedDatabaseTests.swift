import Call
import Foundation
import Pipeline
import Queue
import Simulator
import SluiceCore
import SluiceTesting
import Testing

/// Other processes on a run's database while it works: another pipeline enqueued, a worker that
/// died holding jobs, a second run.
@Suite(.timeLimit(.minutes(2)))
struct SharedDatabaseTests {
    static func pipeline(_ name: String) throws -> PipelineDefinition {
        try PipelineFile.parse(
            """
            name: \(name)
            model: gpt-4o-mini
            max_tokens: 20
            messages:
              - role: user
                content: "{{chunk.text}}"
            """, file: "\(name).yaml", defaultName: name)
    }

    let directory: TemporaryDirectory
    let server: SimulatorServer
    let queue: SQLiteJobQueue

    init() async throws {
        directory = try TemporaryDirectory()
        // Slow enough (one call at a time, 150 ms each) that the run is still working when others act.
        server = try await SimulatorServer.start(
            configuration: SimulatorConfiguration(baseLatency: 0.15, perTokenLatency: 0, replyTokens: 5))
        queue = try SQLiteJobQueue(path: directory.file("queue.db"))
        for index in 0..<6 { try directory.write("first/f\(index).txt", "First batch document number \(index).") }
        _ = try await Enqueuer(queue: queue).enqueue(root: directory.file("first"), pipeline: Self.pipeline("first"))
    }

    func runner(reclaimInterval: Double = 5, workerTimeout: Double = 30) -> (PipelineRunner, ChatCompletionClient) {
        let deployment = Deployment(
            name: "sim", endpoint: server.endpoint, api: .azure(apiVersion: "2024-10-21"), deployment: "sim",
            authentication: .apiKey("sim-key"), timeoutSeconds: 5, maxConcurrency: 1)
        var configuration = RunConfiguration(
            outputPath: directory.file("out.jsonl"), deployments: ["sim": deployment], progressInterval: 60)
        configuration.reclaimInterval = reclaimInterval
        configuration.workerTimeout = workerTimeout
        let client = ChatCompletionClient()
        return (
            PipelineRunner(
                queue: queue, databasePath: directory.file("queue.db"), configuration: configuration, client: client),
            client
        )
    }

    /// Waits (bounded) until the run has committed a first result.
    func firstResult(_ other: SQLiteJobQueue) async throws {
        for _ in 0..<400 {
            if try await !other.storedUnitKeys().isEmpty { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("the run committed nothing")
    }

    /// Enqueues late documents until `owner` gets some of their ingest jobs before the run does, with
    /// a lease far from expiring.
    func holdLateDocuments(owner: String, through other: SQLiteJobQueue) async throws -> [Job] {
        var held: [Job] = []
        for index in 0..<20 where held.isEmpty {
            try directory.write("late/l\(index).txt", "A late document number \(index).")
            _ = try await Enqueuer(queue: other).enqueue(root: directory.file("late"), pipeline: Self.pipeline("first"))
            held = try await other.claim(
                stage: .ingest, limit: 10, owner: owner, leaseSeconds: 3_600, now: Date().timeIntervalSince1970)
        }
        try #require(!held.isEmpty, "the run claimed every late document first")
        return held
    }

    func documents() throws -> [String] {
        let data = try Data(contentsOf: URL(fileURLWithPath: directory.file("out.jsonl")))
        return try data.split(separator: UInt8(ascii: "\n")).map { line in
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
            let sluice = try #require(object["sluice"] as? [String: Any])
            return try #require(sluice["document"] as? String)
        }
    }

    @Test func aRunPicksUpAPipelineEnqueuedWhileItWorks() async throws {
        let (runner, client) = runner()
        let running = Task { try await runner.run { _ in } }
        // Another process (its own connection) enqueues another folder with another pipeline: a run
        // this runner did not know when it started.
        let other = try SQLiteJobQueue(path: directory.file("queue.db"))
        try await firstResult(other)
        for index in 0..<3 { try directory.write("second/s\(index).txt", "Second batch document number \(index).") }
        let (record, _) = try await Enqueuer(queue: other).enqueue(
            root: directory.file("second"), pipeline: Self.pipeline("second"))
        let summary = try await running.value
        try await client.shutdown()
        #expect(record.id != 1)
        #expect(summary.pending == 0 && summary.chunksFailed == 0, "\(summary.failuresByClass)")
        let documents = try documents()
        #expect(documents.sorted() == ((0..<6).map { "f\($0).txt" } + (0..<3).map { "s\($0).txt" }).sorted())
    }

    @Test func jobsOfAWorkerThatDiedAreReclaimedWhileTheRunWorks() async throws {
        let (runner, client) = runner(reclaimInterval: 0.2)
        let running = Task { try await runner.run { _ in } }
        let other = try SQLiteJobQueue(path: directory.file("queue.db"))
        try await firstResult(other)
        // A worker on this host that holds a job and no owner lock: it died (kill -9) holding it, with a
        // lease far from expiring.
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, host.count)
        let dead = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) + ":1:dead"
        let held = try await holdLateDocuments(owner: dead, through: other)
        let summary = try await running.value
        try await client.shutdown()
        #expect(summary.pending == 0 && summary.chunksFailed == 0)
        let documents = Set(try documents())
        for job in held {
            let input = try job.decode(IngestInput.self)
            #expect(documents.contains(input.document.path), "\(input.document.path) was never worked")
        }
    }

    /// A worker on another host cannot be seen to die: while it beats, its jobs stay its own; once
    /// its heartbeat is older than the worker timeout, they go to this run (long before its leases expire).
    @Test func jobsOfAWorkerElsewhereGoToTheRunOnceItsHeartbeatStops() async throws {
        let (runner, client) = runner(reclaimInterval: 0.1, workerTimeout: 1.5)
        let running = Task { try await runner.run { _ in } }
        let other = try SQLiteJobQueue(path: directory.file("queue.db"))
        try await firstResult(other)
        let elsewhere = "another-host.example:77:alive"
        let held = try await holdLateDocuments(owner: elsewhere, through: other)
        // It beats for a while: its jobs are not taken.
        for _ in 0..<10 {
            try await other.heartbeat(owner: elsewhere, now: Date().timeIntervalSince1970)
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(try await other.leaseOwners().contains(elsewhere), "a live worker's jobs were taken")
        // Then it falls silent (its host is gone): the run finishes its jobs.
        let summary = try await running.value
        try await client.shutdown()
        #expect(summary.pending == 0 && summary.chunksFailed == 0)
        let documents = Set(try documents())
        for job in held {
            #expect(documents.contains(try job.decode(IngestInput.self).document.path))
        }
        #expect(try await other.workers().map(\.owner).contains(elsewhere) == false)
    }

    @Test func aSecondRunOnTheDatabaseRefusesAndNamesTheFirst() async throws {
        let (runner, client) = runner()
        let running = Task { try await runner.run { _ in } }
        let other = try SQLiteJobQueue(path: directory.file("queue.db"))
        try await firstResult(other)
        let (second, secondClient) = self.runner()
        do {
            _ = try await second.run { _ in }
            Issue.record("a second run worked the same database")
        } catch let error as SluiceError {
            #expect(error.message.contains("another `sluice run` is working this database"), "\(error.message)")
            #expect(error.message.contains("pid \(getpid())"), "\(error.message)")
        }
        try await secondClient.shutdown()
        let summary = try await running.value
        try await client.shutdown()
        #expect(summary.pending == 0)
        #expect(try documents().count == 6)
        // Once the first has ended, a run may start again.
        let (third, thirdClient) = self.runner()
        _ = try await third.run { _ in }
        try await thirdClient.shutdown()
    }
}
