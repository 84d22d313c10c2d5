import Foundation
import Queue
import SluiceCore
import SluiceTesting
import Testing

@Suite struct QueueTests {
    let directory: TemporaryDirectory
    let queue: SQLiteJobQueue
    let run: RunRecord

    init() async throws {
        directory = try TemporaryDirectory()
        queue = try SQLiteJobQueue(path: directory.file("queue.db"))
        let pipeline = PipelineDefinition(
            name: "p", model: "gpt-4o", messages: [.init(role: "user", template: "{{chunk.text}}")], maxTokens: 10,
            chunking: .init(maxTokens: 100, overlapTokens: 0))
        run = try await queue.run(root: "/data", pipeline: pipeline, pipelineHash: "abc123")
    }

    func jobs(_ count: Int, stage: Stage = .prompt) -> [NewJob] {
        (0..<count).map { NewJob(runID: run.id, stage: stage, key: "k\($0)", payload: Data("{\"n\":\($0)}".utf8)) }
    }

    @Test func enqueueIsIdempotentByKey() async throws {
        #expect(try await queue.enqueue(jobs(5)) == 5)
        #expect(try await queue.enqueue(jobs(7)) == 2)
        #expect(try await queue.statistics().count(.prompt, .ready) == 7)
    }

    @Test func claimLeasesOldestFirstAndOnlyOnce() async throws {
        try await queue.enqueue(jobs(10))
        let first = try await queue.claim(stage: .prompt, limit: 4, owner: "a", leaseSeconds: 60, now: 100)
        let second = try await queue.claim(stage: .prompt, limit: 10, owner: "b", leaseSeconds: 60, now: 100)
        #expect(first.map(\.key) == ["k0", "k1", "k2", "k3"])
        #expect(second.count == 6)
        #expect(Set(first.map(\.id)).isDisjoint(with: second.map(\.id)))
        #expect(try await queue.claim(stage: .prompt, limit: 10, owner: "c", leaseSeconds: 60, now: 100).isEmpty)
    }

    @Test func completionEnqueuesSuccessorsAtomicallyAndChecksTheLease() async throws {
        try await queue.enqueue(jobs(2))
        let claimed = try await queue.claim(stage: .prompt, limit: 2, owner: "a", leaseSeconds: 60, now: 100)
        let next = NewJob(runID: run.id, stage: .call, key: "k0", payload: Data("{}".utf8))
        // A completion by a worker that does not hold the lease changes nothing.
        try await queue.complete([JobCompletion(jobID: claimed[0].id, next: [next])], owner: "intruder", now: 101)
        #expect(try await queue.statistics().count(.call, .ready) == 0)
        try await queue.complete(
            [
                JobCompletion(
                    jobID: claimed[0].id, next: [next], unitResult: UnitResult(unitKey: "u", result: Data("r".utf8)))
            ],
            owner: "a", now: 101)
        let statistics = try await queue.statistics()
        #expect(statistics.count(.prompt, .done) == 1)
        #expect(statistics.count(.prompt, .leased) == 1)
        #expect(statistics.count(.call, .ready) == 1)
        #expect(try await queue.unitResult(unitKey: "u") == Array("r".utf8))
    }

    @Test func failuresRetryAfterTheirTimeOrStayFailed() async throws {
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

    @Test func rateLimitsDoNotCountAsAttempts() async throws {
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

    @Test func leasesOfDeadOwnersAndExpiredLeasesAreReclaimed() async throws {
        try await queue.enqueue(jobs(3))
        _ = try await queue.claim(stage: .prompt, limit: 1, owner: "dead", leaseSeconds: 600, now: 100)
        _ = try await queue.claim(stage: .prompt, limit: 1, owner: "slow", leaseSeconds: 10, now: 100)
        _ = try await queue.claim(stage: .prompt, limit: 1, owner: "alive", leaseSeconds: 600, now: 100)
        #expect(Set(try await queue.leaseOwners()) == ["dead", "slow", "alive"])
        #expect(try await queue.reclaimLeases(owners: ["dead"], expiredBefore: 111) == 2)
        #expect(try await queue.leaseOwners() == ["alive"])
        #expect(try await queue.statistics().count(.prompt, .ready) == 2)
    }

    @Test func collectedLinesCommitWithTheOutputLength() async throws {
        try await queue.enqueue(jobs(2, stage: .collect))
        let claimed = try await queue.claim(stage: .collect, limit: 2, owner: "a", leaseSeconds: 60, now: 100)
        #expect(try await queue.committedOutputLength(path: "/out.jsonl") == 0)
        try await queue.commitCollected(
            jobIDs: claimed.map(\.id), owner: "a", path: "/out.jsonl", length: 420, now: 101)
        #expect(try await queue.committedOutputLength(path: "/out.jsonl") == 420)
        #expect(try await queue.statistics().count(.collect, .done) == 2)
    }

    @Test func documentsAreNewChangedUnchangedSkippedOrDeleted() async throws {
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
    }
}
