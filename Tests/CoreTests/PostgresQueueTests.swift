import Foundation
import Queue
import SluiceCore
import SluiceTesting
import Testing

/// What only the PostgreSQL queue has to show: many clients on one database at once, and its URL.
@Suite(.enabled(if: PostgresTestServer.available)) struct PostgresQueueTests {
    /// Workers on several hosts are several clients: claiming at once, each job goes to exactly one.
    @Test func concurrentClaimsTakeEachJobOnce() async throws {
        let location = try await PostgresTestServer.shared.database()
        // Four clients open (and migrate) the same new database at once.
        let queues = try await withThrowingTaskGroup(of: PostgresJobQueue.self) { group in
            for _ in 0..<4 { group.addTask { try await PostgresJobQueue(location: location) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let run = try await queues[0].run(root: "/r", pipeline: QueueFixture.pipeline, pipelineHash: "h")
        let jobs = (0..<400).map { NewJob(runID: run.id, stage: .prompt, key: "k\($0)", payload: Data("{}".utf8)) }
        #expect(try await queues[1].enqueue(jobs) == 400)
        let claimed = try await withThrowingTaskGroup(of: [Int64].self) { group in
            for (index, queue) in queues.enumerated() {
                group.addTask {
                    var mine: [Int64] = []
                    while true {
                        let batch = try await queue.claim(
                            stage: .prompt, limit: 7, owner: "w\(index)", leaseSeconds: 60, now: 100)
                        if batch.isEmpty { return mine }
                        mine += batch.map(\.id)
                        try await queue.complete(
                            batch.map { JobCompletion(jobID: $0.id, next: []) }, owner: "w\(index)", now: 101)
                    }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let all = claimed.flatMap { $0 }
        #expect(all.count == 400 && Set(all).count == 400)
        #expect(try await queues[2].statistics().count(.prompt, .done) == 400)
        for queue in queues { await queue.close() }
    }

    /// The last parts of a reduce job delivered by two workers at once make it ready exactly once.
    @Test func partsDeliveredAtOnceByTwoWorkersMakeTheReduceReady() async throws {
        let location = try await PostgresTestServer.shared.database()
        let first = try await PostgresJobQueue(location: location)
        let second = try await PostgresJobQueue(location: location)
        let run = try await first.run(root: "/r", pipeline: QueueFixture.pipeline, pipelineHash: "h")
        try await first.enqueue(
            [NewJob(runID: run.id, stage: .reduce, key: "doc", payload: Data("{}".utf8), parts: 2)]
                + (0..<2).map { NewJob(runID: run.id, stage: .call, key: "c\($0)", payload: Data("{}".utf8)) })
        let calls = try await first.claim(stage: .call, limit: 2, owner: "a", leaseSeconds: 60, now: 100)
        async let one: Void = first.complete(
            [
                JobCompletion(
                    jobID: calls[0].id, next: [],
                    parts: [JobPart(runID: run.id, key: "doc", part: 0, payload: Data("0".utf8))])
            ], owner: "a", now: 101)
        async let two: Void = second.complete(
            [
                JobCompletion(
                    jobID: calls[1].id, next: [],
                    parts: [JobPart(runID: run.id, key: "doc", part: 1, payload: Data("1".utf8))])
            ], owner: "a", now: 101)
        _ = try await (one, two)
        let reduce = try await first.claim(stage: .reduce, limit: 5, owner: "a", leaseSeconds: 60, now: 102)
        #expect(reduce.count == 1)
        #expect(reduce.first?.parts == [Data("0".utf8), Data("1".utf8)])
        await first.close()
        await second.close()
    }

    /// Idle workers of another process are woken by a commit that gives their stage jobs (LISTEN/NOTIFY),
    /// not by their fallback look.
    @Test func anotherWorkersCommitWakesThisOnesStage() async throws {
        let location = try await PostgresTestServer.shared.database()
        let here = try await PostgresJobQueue(location: location)
        let there = try await PostgresJobQueue(location: location)
        let run = try await here.run(root: "/r", pipeline: QueueFixture.pipeline, pipelineHash: "h")
        let before = (here.signals.generation(.chunk), here.signals.generation(.prompt))
        // The listener is up once a notification of its own comes back; then the other commits.
        var listening = false
        for attempt in 0..<100 where !listening {
            try await here.enqueue([
                NewJob(runID: run.id, stage: .collect, key: "probe\(attempt)", payload: Data("{}".utf8))
            ])
            let seen = here.signals.generation(.collect)
            try await Task.sleep(for: .milliseconds(50))
            listening = here.signals.generation(.collect) > seen
        }
        try #require(listening, "no notification came back")
        try await there.enqueue([NewJob(runID: run.id, stage: .chunk, key: "c", payload: Data("{}".utf8))])
        var woken = false
        for _ in 0..<100 where !woken {
            try await Task.sleep(for: .milliseconds(20))
            woken = here.signals.generation(.chunk) > before.0
        }
        #expect(woken, "the other worker's commit did not wake this one")
        #expect(here.signals.generation(.prompt) == before.1, "a stage without new jobs was woken")
        await here.close()
        await there.close()
    }

    @Test func urlsNameTheirPartsAndNeverShowThePassword() throws {
        let location = try PostgresLocation(
            url: "postgresql://worker:s%40cret@db.example:6543/runs?sslmode=require", environment: [:])
        #expect(location.host == "db.example" && location.port == 6543 && location.user == "worker")
        #expect(location.database == "runs" && location.tls == .require && location.password == "s@cret")
        #expect(!location.description.contains("cret"))
        let fromEnvironment = try PostgresLocation(url: "postgres://w@h/d", environment: ["PGPASSWORD": "pw"])
        #expect(fromEnvironment.password == "pw" && fromEnvironment.port == 5432 && fromEnvironment.tls == .prefer)
        for bad in ["postgres://h/d", "postgres://u@h", "postgres://u@h/d?sslmode=sometimes", "mysql://u@h/d"] {
            #expect(throws: SluiceError.self, "\(bad)") { try PostgresLocation(url: bad, environment: [:]) }
        }
    }

    @Test func aDatabaseOfALaterSluiceIsRefusedByName() async throws {
        let location = try await PostgresTestServer.shared.database()
        let queue = try await PostgresJobQueue(location: location)
        try await queue.setRunState(key: "probe", value: Data("x".utf8))
        await queue.close()
        try await PostgresJobQueue.execute("UPDATE sluice_schema SET version = 999", at: location)
        let error = await #expect(throws: SluiceError.self) { _ = try await PostgresJobQueue(location: location) }
        #expect(error?.message.contains("999") == true && error?.message.contains(location.database) == true)
        #expect(error?.message.contains("newer") == true)
    }
}
