import Call
import Foundation
import Queue
import SluiceCore

/// `sluice-bench queue`: job transitions per second on a SQLite file or a PostgreSQL database.
///
/// Jobs go through four hops (prompt → call → collect → done) the way the workers move them:
/// claimed in batches, then completed in batches, each completion inserting the next stage's job in
/// the same transaction. A transition is one job changing state (enqueued, claimed, or done).
package struct QueueBenchmark: Sendable {
    package struct Report: Sendable, Codable {
        package var jobs: Int
        package var batch: Int
        package var transitions: Int
        package var seconds: Double
        package var transitionsPerSecond: Double
        package var hopsPerSecond: Double
        package var database: String
    }

    package var jobs: Int
    package var batch: Int

    package init(jobs: Int = 50_000, batch: Int = 256) {
        self.jobs = jobs
        self.batch = batch
    }

    /// A PostgreSQL queue with every table of its schema emptied (the schema stays): where a benchmark starts.
    static func emptiedQueue(url: String) async throws -> PostgresJobQueue {
        let location = try PostgresLocation(url: url)
        let queue = try await PostgresJobQueue(location: location)
        try await PostgresJobQueue.execute(
            "TRUNCATE runs, documents, jobs, job_parts, spend, unit_results, outputs, run_state, workers, budget_reservations RESTART IDENTITY CASCADE",
            at: location)
        return queue
    }

    /// - Parameter databasePath: A SQLite file (recreated) or a `postgres://` URL (its queue tables emptied).
    package func run(databasePath: String) async throws -> Report {
        let queue: any JobQueue
        if PostgresLocation.isURL(databasePath) {
            queue = try await Self.emptiedQueue(url: databasePath)
        } else {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: databasePath + suffix) }
            queue = try SQLiteJobQueue(path: databasePath)
        }
        let pipeline = PipelineDefinition(
            name: "bench", model: "gpt-4o-mini", messages: [.init(role: "user", template: "{{chunk.text}}")],
            maxTokens: 10,
            chunking: .init(maxTokens: 100, overlapTokens: 0))
        let run = try await queue.run(root: "/bench", pipeline: pipeline, pipelineHash: "bench")
        let payload = Data(String(repeating: "x", count: 200).utf8)
        let stages: [Stage] = [.prompt, .call, .collect]
        let clock = ContinuousClock()
        var transitions = 0
        let started = clock.now
        var offset = 0
        while offset < jobs {
            let count = min(batch, jobs - offset)
            try await queue.enqueue(
                (offset..<(offset + count)).map {
                    NewJob(runID: run.id, stage: .prompt, key: "k\($0)", payload: payload)
                })
            offset += count
            transitions += count
        }
        for (index, stage) in stages.enumerated() {
            while true {
                let claimed = try await queue.claim(
                    stage: stage, limit: batch, owner: "bench", leaseSeconds: 600, now: 1)
                if claimed.isEmpty { break }
                transitions += claimed.count
                let next = index + 1 < stages.count ? stages[index + 1] : nil
                let completions = claimed.map { job in
                    JobCompletion(
                        jobID: job.id,
                        next: next.map { [NewJob(runID: run.id, stage: $0, key: job.key, payload: payload)] } ?? [])
                }
                try await queue.complete(completions, owner: "bench", now: 1)
                transitions += claimed.count * (next == nil ? 1 : 2)
            }
        }
        let seconds = (clock.now - started).seconds
        return Report(
            jobs: jobs, batch: batch, transitions: transitions, seconds: seconds,
            transitionsPerSecond: Double(transitions) / seconds, hopsPerSecond: Double(jobs * stages.count) / seconds,
            // A URL is shown without its password.
            database: (try? PostgresLocation(url: databasePath))?.description ?? databasePath)
    }
}
