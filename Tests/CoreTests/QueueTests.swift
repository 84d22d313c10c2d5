import Foundation
import Queue
import SluiceCore
import SluiceTesting
import Testing

@Suite struct QueueTests {
    let fixture: QueueFixture
    var directory: TemporaryDirectory { fixture.directory }
    var queue: SQLiteJobQueue { fixture.queue }
    var run: RunRecord { fixture.run }

    init() async throws { fixture = try await QueueFixture() }

    func jobs(_ count: Int, stage: Stage = .prompt) -> [NewJob] { Self.jobs(count, stage: stage, run: run) }

    static func jobs(_ count: Int, stage: Stage, run: RunRecord) -> [NewJob] {
        (0..<count).map { NewJob(runID: run.id, stage: stage, key: "k\($0)", payload: Data("{\"n\":\($0)}".utf8)) }
    }

    @Test func aReadLeavesNoSnapshotThatBlocksTheNextWriteAfterAnotherProcessCommits() async throws {
        // Two connections to one file, as two processes have: every read and write of one must work
        // after the other commits (a statement left stepped would keep a stale snapshot, and the next
        // BEGIN IMMEDIATE would fail at once with "database is locked").
        let other = try SQLiteJobQueue(path: directory.file("queue.db"))
        try await queue.enqueue(jobs(3, stage: .collect))
        let claimed = try await queue.claim(stage: .collect, limit: 3, owner: "a", leaseSeconds: 60, now: 100)
        try await queue.commitCollected(jobIDs: claimed.map(\.id), owner: "a", path: "/o.jsonl", length: 7, now: 101)
        for round in 0..<3 {
            #expect(try await queue.committedOutputLength(path: "/o.jsonl") == 7)
            _ = try await queue.runs()
            _ = try await queue.statistics()
            try await other.enqueue(
                (0..<2).map {
                    NewJob(runID: run.id, stage: .prompt, key: "other\(round)-\($0)", payload: Data("{}".utf8))
                })
            try await queue.enqueue(
                [NewJob(runID: run.id, stage: .prompt, key: "mine\(round)", payload: Data("{}".utf8))])
        }
        #expect(try await queue.statistics().count(.prompt, .ready) == 9)
    }

    @Test(arguments: QueueBackend.available) func enqueueIsIdempotentByKey(_ backend: QueueBackend) async throws {
        let fixture = try await backend.fixture()
        let (queue, run) = (fixture.queue, fixture.run)
        func jobs(_ count: Int, stage: Stage = .prompt) -> [NewJob] { Self.jobs(count, stage: stage, run: run) }
        #expect(try await queue.enqueue(jobs(5)) == 5)
        #expect(try await queue.enqueue(jobs(7)) == 2)
        #expect(try await queue.statistics().count(.prompt, .ready) == 7)
    }

    @Test(arguments: QueueBackend.available) func claimLeasesOldestFirstAndOnlyOnce(_ backend: QueueBackend)
        async throws
    {
        let fixture = try await backend.fixture()
        let (queue, run) = (fixture.queue, fixture.run)
        func jobs(_ count: Int, stage: Stage = .prompt) -> [NewJob] { Self.jobs(count, stage: stage, run: run) }
        try await queue.enqueue(jobs(10))
        let first = try await queue.claim(stage: .prompt, limit: 4, owner: "a", leaseSeconds: 60, now: 100)
        let second = try await queue.claim(stage: .prompt, limit: 10, owner: "b", leaseSeconds: 60, now: 100)
        #expect(first.map(\.key) == ["k0", "k1", "k2", "k3"])
        #expect(second.count == 6)
        #expect(Set(first.map(\.id)).isDisjoint(with: second.map(\.id)))
        #expect(try await queue.claim(stage: .prompt, limit: 10, owner: "c", leaseSeconds: 60, now: 100).isEmpty)
    }

    @Test(arguments: QueueBackend.available) func completionEnqueuesSuccessorsAtomicallyAndChecksTheLease(
        _ backend: QueueBackend
    ) async throws {
        let fixture = try await backend.fixture()
        let (queue, run) = (fixture.queue, fixture.run)
        func jobs(_ count: Int, stage: Stage = .prompt) -> [NewJob] { Self.jobs(count, stage: stage, run: run) }
        try await queue.enqueue(jobs(2))
        let claimed = try await queue.claim(stage: .prompt, limit: 2, owner: "a", leaseSeconds: 60, now: 100)
        let next = NewJob(
            runID: run.id, stage: .call, key: "k0", payload: Data("{}".utf8), body: Data("{\"m\":\"\\n\"}".utf8))
        // A completion by a worker that does not hold the lease changes nothing.
        try await queue.complete([JobCompletion(jobID: claimed[0].id, next: [next])], owner: "intruder", now: 101)
        #expect(try await queue.statistics().count(.call, .ready) == 0)
        try await queue.complete(
            [
                JobCompletion(
                    jobID: claimed[0].id, next: [next],
                    unitResult: UnitResult(unitKey: "u", result: Data("r".utf8), body: Data([0x7B, 0x00, 0xFF, 0x7D])))
            ],
            owner: "a", now: 101)
        let statistics = try await queue.statistics()
        #expect(statistics.count(.prompt, .done) == 1)
        #expect(statistics.count(.prompt, .leased) == 1)
        #expect(statistics.count(.call, .ready) == 1)
        // Bodies are stored as the bytes they are (even ones that are not UTF-8), beside the JSON.
        let stored = try #require(try await queue.unitResult(unitKey: "u"))
        #expect(stored.result == Data("r".utf8))
        #expect(stored.body == Data([0x7B, 0x00, 0xFF, 0x7D]))
        #expect(try await queue.unitResults(unitKeys: ["u", "missing", "u"]).keys.sorted() == ["u"])
        let call = try #require(
            try await queue.claim(stage: .call, limit: 1, owner: "a", leaseSeconds: 60, now: 102).first)
        #expect(call.body == Data("{\"m\":\"\\n\"}".utf8))
    }

    @Test(arguments: QueueBackend.available) func failuresRetryAfterTheirTimeOrStayFailed(_ backend: QueueBackend)
        async throws
    {
        let fixture = try await backend.fixture()
        let (queue, run) = (fixture.queue, fixture.run)
        func jobs(_ count: Int, stage: Stage = .prompt) -> [NewJob] { Self.jobs(count, stage: stage, run: run) }
        try await queue.enqueue(jobs(2))
        let claimed = try await queue.claim(stage: .prompt, limit: 2, owner: "a", leaseSeconds: 60, now: 100)
        try await queue.fail(
            [
                JobFailure(jobID: claimed[0].id, errorClass: .serverError, message: "HTTP 500", retryAt: 150),
                JobFailure(jobID: claimed[1].id, errorClass: .contentFilter, message: "filtered", retryAt: nil),
            ], owner: "a", now: 101)
        #expect(try await queue.claim(stage: .prompt, limit: 5, owner: "a", leaseSeconds: 60, now: 149).isEmpty)
        let retried = try await queue.claim(stage: .prompt, limit: 5, owner: "a", leaseSeconds: 60, now: 150)
        #expect(retried.map(\.id) == [claimed[0].id])
        #expect(retried.first?.attempts == 1)
        let failures = try await queue.failures(limit: 10)
        #expect(failures.map(\.errorClass) == ["content_filter"])
        #expect(failures.first?.message == "filtered")
        #expect(try await queue.retryFailed() == 1)
        #expect(try await queue.statistics().failuresByClass.isEmpty)
    }

    @Test(arguments: QueueBackend.available) func rateLimitsDoNotCountAsAttempts(_ backend: QueueBackend) async throws {
        let fixture = try await backend.fixture()
        let (queue, run) = (fixture.queue, fixture.run)
        func jobs(_ count: Int, stage: Stage = .prompt) -> [NewJob] { Self.jobs(count, stage: stage, run: run) }
        try await queue.enqueue(jobs(1))
        let claimed = try await queue.claim(stage: .prompt, limit: 1, owner: "a", leaseSeconds: 60, now: 100)
        try await queue.fail(
            [
                JobFailure(
                    jobID: claimed[0].id, errorClass: .rateLimited, message: "429", retryAt: 100, countsAsAttempt: false
                )
            ],
            owner: "a", now: 100)
        let again = try await queue.claim(stage: .prompt, limit: 1, owner: "a", leaseSeconds: 60, now: 100)
        #expect(again.first?.attempts == 0)
        #expect(again.first?.rateLimited == 1)
    }

    @Test(arguments: QueueBackend.available) func leasesOfDeadOwnersAndExpiredLeasesAreReclaimed(
        _ backend: QueueBackend
    ) async throws {
        let fixture = try await backend.fixture()
        let (queue, run) = (fixture.queue, fixture.run)
        func jobs(_ count: Int, stage: Stage = .prompt) -> [NewJob] { Self.jobs(count, stage: stage, run: run) }
        try await queue.enqueue(jobs(3))
        _ = try await queue.claim(stage: .prompt, limit: 1, owner: "dead", leaseSeconds: 600, now: 100)
        _ = try await queue.claim(stage: .prompt, limit: 1, owner: "slow", leaseSeconds: 10, now: 100)
        _ = try await queue.claim(stage: .prompt, limit: 1, owner: "alive", leaseSeconds: 600, now: 100)
        #expect(Set(try await queue.leaseOwners()) == ["dead", "slow", "alive"])
        #expect(try await queue.reclaimLeases(owners: ["dead"], expiredBefore: 111) == 2)
        #expect(try await queue.leaseOwners() == ["alive"])
        #expect(try await queue.statistics().count(.prompt, .ready) == 2)
    }

    @Test(arguments: QueueBackend.available) func collectedLinesCommitWithTheOutputLength(_ backend: QueueBackend)
        async throws
    {
        let fixture = try await backend.fixture()
        let (queue, run) = (fixture.queue, fixture.run)
        func jobs(_ count: Int, stage: Stage = .prompt) -> [NewJob] { Self.jobs(count, stage: stage, run: run) }
        try await queue.enqueue(jobs(2, stage: .collect))
        let claimed = try await queue.claim(stage: .collect, limit: 2, owner: "a", leaseSeconds: 60, now: 100)
        #expect(try await queue.committedOutputLength(path: "/out.jsonl") == nil)
        try await queue.commitCollected(
            jobIDs: claimed.map(\.id), owner: "a", path: "/out.jsonl", length: 420, now: 101)
        #expect(try await queue.committedOutputLength(path: "/out.jsonl") == 420)
        #expect(try await queue.statistics().count(.collect, .done) == 2)
    }

    @Test(arguments: QueueBackend.available) func documentsAreNewChangedUnchangedSkippedOrDeleted(
        _ backend: QueueBackend
    ) async throws {
        let fixture = try await backend.fixture()
        let (queue, run) = (fixture.queue, fixture.run)
        func jobs(_ count: Int, stage: Stage = .prompt) -> [NewJob] { Self.jobs(count, stage: stage, run: run) }
        func found(_ path: String, _ sha: String) -> FoundDocument {
            FoundDocument(document: DocumentRef(path: path, sha256: sha, size: 1, mtime: 1), file: "/data/" + path)
        }
        let first = try await queue.recordDocuments(
            run: run, found: [found("a.txt", "1"), found("b.txt", "2")],
            skipped: [SkippedFile(path: "c.pdf", reason: "unsupported")])
        #expect(first.new == 2 && first.skipped == 1)
        let second = try await queue.recordDocuments(
            run: run, found: [found("a.txt", "1"), found("b.txt", "3")], skipped: [])
        #expect(second.unchanged == 1 && second.changed == 1 && second.new == 0 && second.deleted == 1)
        // One ingest job per document version.
        #expect(try await queue.statistics().count(.ingest, .ready) == 3)
        // Recorded as deleted: not counted again; back, it is new.
        let third = try await queue.recordDocuments(
            run: run, found: [found("a.txt", "1"), found("b.txt", "3")], skipped: [])
        #expect(third.unchanged == 2 && third.deleted == 0)
        let fourth = try await queue.recordDocuments(
            run: run, found: [found("a.txt", "1"), found("b.txt", "3"), found("c.pdf", "9")], skipped: [])
        #expect(fourth.unchanged == 2 && fourth.deleted == 0 && fourth.new + fourth.changed == 1)
    }

    @Test(arguments: QueueBackend.available) func aReduceJobWaitsForAllItsPartsAndTakesEachOnce(_ backend: QueueBackend)
        async throws
    {
        let fixture = try await backend.fixture()
        let (queue, run) = (fixture.queue, fixture.run)
        func jobs(_ count: Int, stage: Stage = .prompt) -> [NewJob] { Self.jobs(count, stage: stage, run: run) }
        try await queue.enqueue(jobs(3, stage: .call))
        let reduce = NewJob(runID: run.id, stage: .reduce, key: "doc#reduce0", payload: Data("{}".utf8), parts: 3)
        try await queue.enqueue([reduce])
        #expect(try await queue.statistics().count(.reduce, .waiting) == 1)
        #expect(try await queue.hasPendingWork())
        func part(_ index: Int, _ text: String) -> JobPart {
            JobPart(runID: run.id, key: "doc#reduce0", part: index, payload: Data(text.utf8))
        }
        let calls = try await queue.claim(stage: .call, limit: 3, owner: "a", leaseSeconds: 60, now: 100)
        // Parts arrive out of order, one twice (a result delivered again after a crash): the first wins.
        try await queue.complete(
            [JobCompletion(jobID: calls[2].id, next: [], parts: [part(2, "c")])], owner: "a", now: 101)
        try await queue.complete(
            [JobCompletion(jobID: calls[0].id, next: [], parts: [part(0, "a"), part(2, "x")])], owner: "a", now: 101)
        #expect(try await queue.claim(stage: .reduce, limit: 5, owner: "a", leaseSeconds: 60, now: 102).isEmpty)
        try await queue.complete(
            [JobCompletion(jobID: calls[1].id, next: [], parts: [part(1, "b")])], owner: "a", now: 103)
        let ready = try await queue.claim(stage: .reduce, limit: 5, owner: "a", leaseSeconds: 60, now: 104)
        #expect(ready.count == 1)
        #expect(ready.first?.parts.map { String(decoding: $0, as: UTF8.self) } == ["a", "b", "c"])
        try await queue.complete(
            [JobCompletion(jobID: ready[0].id, next: [], consumesParts: true)], owner: "a", now: 105)
        #expect(try await queue.statistics().count(.reduce, .done) == 1)
        #expect(try await !queue.hasPendingWork())
    }

    @Test(arguments: QueueBackend.available) func aFailedPartAbandonsItsReduceUntilRetried(_ backend: QueueBackend)
        async throws
    {
        let fixture = try await backend.fixture()
        let (queue, run) = (fixture.queue, fixture.run)
        func jobs(_ count: Int, stage: Stage = .prompt) -> [NewJob] { Self.jobs(count, stage: stage, run: run) }
        try await queue.enqueue(jobs(2, stage: .call))
        try await queue.enqueue([NewJob(runID: run.id, stage: .reduce, key: "r", payload: Data("{}".utf8), parts: 2)])
        let calls = try await queue.claim(stage: .call, limit: 2, owner: "a", leaseSeconds: 60, now: 100)
        try await queue.complete(
            [
                JobCompletion(
                    jobID: calls[0].id, next: [],
                    parts: [JobPart(runID: run.id, key: "r", part: 0, payload: Data("a".utf8))])
            ],
            owner: "a", now: 101)
        try await queue.fail(
            [
                JobFailure(
                    jobID: calls[1].id, errorClass: .contentFilter, message: "filtered", retryAt: nil,
                    abandons: [JobAbandon(runID: run.id, key: "r", message: "chunk 2 failed")])
            ], owner: "a", now: 102)
        var statistics = try await queue.statistics()
        #expect(statistics.count(.reduce, .failed) == 1 && statistics.failuresByClass["incomplete"] == 1)
        #expect(try await !queue.hasPendingWork())
        // Retrying puts the chunk back and the reduce back to waiting for it (not ready without it).
        #expect(try await queue.retryFailed() == 2)
        statistics = try await queue.statistics()
        #expect(statistics.count(.reduce, .waiting) == 1 && statistics.count(.call, .ready) == 1)
        let retried = try await queue.claim(stage: .call, limit: 1, owner: "a", leaseSeconds: 60, now: 103)
        try await queue.complete(
            [
                JobCompletion(
                    jobID: retried[0].id, next: [],
                    parts: [JobPart(runID: run.id, key: "r", part: 1, payload: Data("b".utf8))])
            ],
            owner: "a", now: 104)
        #expect(
            try await queue.claim(stage: .reduce, limit: 1, owner: "a", leaseSeconds: 60, now: 105).first?.parts.count
                == 2)
    }

    @Test(arguments: QueueBackend.available) func spendAddsUpPerDeploymentModelAndDocument(_ backend: QueueBackend)
        async throws
    {
        let fixture = try await backend.fixture()
        let (queue, run) = (fixture.queue, fixture.run)
        func jobs(_ count: Int, stage: Stage = .prompt) -> [NewJob] { Self.jobs(count, stage: stage, run: run) }
        try await queue.enqueue(jobs(3, stage: .call))
        let calls = try await queue.claim(stage: .call, limit: 3, owner: "a", leaseSeconds: 60, now: 100)
        func spend(_ document: String, _ cost: Double?) -> Spend {
            Spend(
                runID: run.id, document: document, deployment: "d", model: "gpt-4o", promptTokens: 100,
                cachedTokens: 10,
                completionTokens: 20, reasoningTokens: 0, cost: cost)
        }
        try await queue.complete(
            [JobCompletion(jobID: calls[0].id, next: [], spend: spend("a", 0.5))], owner: "a", now: 101)
        try await queue.fail(
            [
                JobFailure(
                    jobID: calls[1].id, errorClass: .invalidOutput, message: "bad", retryAt: 200,
                    spend: spend("a", 0.25))
            ],
            owner: "a", now: 101)
        try await queue.complete(
            [JobCompletion(jobID: calls[2].id, next: [], spend: spend("b", nil))], owner: "a", now: 101)
        let report = try await queue.spendReport(documents: 1)
        #expect(report.lines.count == 1 && report.calls == 3 && report.lines[0].unpricedCalls == 1)
        #expect(report.lines[0].promptTokens == 300 && report.lines[0].cachedTokens == 30)
        #expect(abs(report.total - 0.75) < 1e-12 && report.documents == 2)
        #expect(report.dearest.map(\.document) == ["a"] && abs(report.dearest[0].cost - 0.75) < 1e-12)
    }

    @Test(arguments: QueueBackend.available) func workersBeatAndAreForgotten(_ backend: QueueBackend) async throws {
        let queue = try await backend.fixture().queue
        try await queue.heartbeat(owner: "host-a:1:x", now: 100)
        try await queue.heartbeat(owner: "host-b:2:y", now: 110)
        try await queue.heartbeat(owner: "host-a:1:x", now: 130)
        #expect(
            try await queue.workers() == [
                WorkerRecord(owner: "host-a:1:x", started: 100, heartbeat: 130),
                WorkerRecord(owner: "host-b:2:y", started: 110, heartbeat: 110),
            ])
        try await queue.forgetWorker(owner: "host-b:2:y")
        #expect(try await queue.workers().map(\.owner) == ["host-a:1:x"])
    }

    /// A failed statement says SQLite's result code, the statement and its arguments, as its cause.
    @Test func sqliteErrorsCarryTheirResultCodeStatementAndArguments() async throws {
        let readOnly = try SQLiteJobQueue(readingOnly: queue.path)
        let error = await #expect(throws: SluiceError.self) {
            _ = try await readOnly.run(root: "/read/only", pipeline: run.pipeline, pipelineHash: "h")
        }
        let cause = try #require(error?.cause as? SQLiteError)
        #expect(cause.resultCode & 0xFF == 8, "\(cause)")  // SQLITE_READONLY, whichever extended code
        #expect(cause.sql?.contains("INSERT INTO runs") == true)
        #expect(cause.arguments.contains("'/read/only'"))
        #expect(error?.code == .database && error?.message.contains(queue.path) == true)
    }
}
