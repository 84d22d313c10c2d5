import Foundation
import Queue
import SluiceCore
import SluiceTesting
import Testing

/// The batch lane's records on both backends: a batch holds its jobs within the enqueued-token
/// quota, a crash while committing its lines sends none of them again, and its batches outlive
/// their worker.
@Suite struct BatchQueueTests {
    static let owner = "host-a:1:aaaa"

    /// A fixture with `count` call jobs leased by ``owner``.
    static func leasedCalls(_ backend: QueueBackend, count: Int) async throws -> (BackendFixture, [Job]) {
        let fixture = try await backend.fixture()
        try await fixture.queue.enqueue(
            (0..<count).map {
                NewJob(
                    runID: fixture.run.id, stage: .call, key: "c\($0)", payload: Data("{}".utf8), body: Data("{}".utf8))
            })
        let jobs = try await fixture.queue.claim(stage: .call, limit: count, owner: owner, leaseSeconds: 60, now: 1_000)
        #expect(jobs.count == count)
        return (fixture, jobs)
    }

    static func batch(_ name: String, tokens: Int, lines: Int) -> BatchRecord {
        BatchRecord(deployment: "gpt-batch", name: name, inputTokens: tokens, lines: lines, owner: owner, now: 1_000)
    }

    static func lines(_ jobs: [Job]) -> [BatchLine] { jobs.map { BatchLine(customID: "id-\($0.id)", jobID: $0.id) } }

    @Test(arguments: QueueBackend.available) func batchesHoldTheirJobsWithinTheQuota(_ backend: QueueBackend)
        async throws
    {
        let (fixture, jobs) = try await Self.leasedCalls(backend, count: 6)
        let queue = fixture.queue
        guard
            case .recorded(let first) = try await queue.recordBatch(
                Self.batch("b1", tokens: 600, lines: 3), lines: Self.lines(Array(jobs[0..<3])), owner: Self.owner,
                quota: 1_000)
        else { Issue.record("the first batch fits the quota"); return }
        #expect(first.id > 0 && first.owner == Self.owner)
        #expect(try await queue.statistics().count(.call, .batched) == 3)
        // 600 + 500 > 1,000: refused, and nothing of it recorded.
        let refused = try await queue.recordBatch(
            Self.batch("b2", tokens: 500, lines: 3), lines: Self.lines(Array(jobs[3...])), owner: Self.owner,
            quota: 1_000)
        #expect(refused == .quotaFull(used: 600))
        #expect(try await queue.statistics().count(.call, .leased) == 3)
        // Jobs no longer this owner's: nothing recorded either.
        let other = try await queue.recordBatch(
            Self.batch("b3", tokens: 100, lines: 3), lines: Self.lines(Array(jobs[3...])), owner: "host-b:2:bbbb",
            quota: 1_000)
        #expect(other == .leaseLost)
        #expect(try await queue.batches(all: true).map(\.name) == ["b1"])
        // Held jobs are pending work, and neither claimed nor reclaimed.
        try await queue.release(jobIDs: jobs[3...].map(\.id), owner: Self.owner)
        #expect(try await queue.claim(stage: .call, limit: 10, owner: "w2", leaseSeconds: 60, now: 1_001).count == 3)
        #expect(try await queue.reclaimLeases(owners: [Self.owner], expiredBefore: 99_999) == 3)
        #expect(try await queue.statistics().count(.call, .batched) == 3)
        #expect(try await queue.hasPendingWork())
        // Once it ended, its quota is free for the next.
        var ended = first
        ended.step = .ended
        try await queue.updateBatch(ended)
        let again = try await queue.claim(stage: .call, limit: 10, owner: Self.owner, leaseSeconds: 60, now: 1_002)
        guard
            case .recorded = try await queue.recordBatch(
                Self.batch("b2", tokens: 900, lines: 3), lines: Self.lines(again), owner: Self.owner, quota: 1_000)
        else { Issue.record("an ended batch holds no quota"); return }
        await fixture.close()
    }

    @Test(arguments: QueueBackend.available) func aWorkerKilledWhileCommittingSendsNoLineAgain(_ backend: QueueBackend)
        async throws
    {
        let (fixture, jobs) = try await Self.leasedCalls(backend, count: 4)
        let queue = fixture.queue
        guard
            case .recorded(var batch) = try await queue.recordBatch(
                Self.batch("b1", tokens: 100, lines: 4), lines: Self.lines(jobs), owner: Self.owner, quota: 1_000)
        else { Issue.record("recorded"); return }
        batch.step = .ended
        try await queue.updateBatch(batch)
        #expect(try await queue.batchLines(batchID: batch.id).map(\.jobID) == jobs.map(\.id))
        // The worker claims the lines to commit them, commits one, and dies.
        let claimed = try await queue.claimBatched(batchID: batch.id, owner: Self.owner, leaseSeconds: 60, now: 1_010)
        #expect(claimed.map(\.id) == jobs.map(\.id) && claimed.allSatisfy { $0.body == Data("{}".utf8) })
        try await queue.complete([JobCompletion(jobID: jobs[0].id, next: [])], owner: Self.owner, now: 1_011)
        #expect(try await queue.leaseOwners().contains(Self.owner))
        #expect(try await queue.reclaimLeases(owners: [Self.owner], expiredBefore: 0) == 3)
        // Not ready for another batch: held again, for the batch's next worker to commit.
        #expect(try await queue.statistics().count(.call, .ready) == 0)
        #expect(try await queue.statistics().count(.call, .batched) == 3)
        // Its batch has no owner now, as every reader sees it, until another worker adopts it.
        #expect(try await queue.batches(all: false).map(\.owner) == [nil])
        let adopted = try await queue.adoptBatches(owner: "host-b:2:bbbb")
        #expect(adopted.map(\.id) == [batch.id] && adopted.first?.owner == "host-b:2:bbbb")
        let rest = try await queue.claimBatched(batchID: batch.id, owner: "host-b:2:bbbb", leaseSeconds: 60, now: 1_020)
        #expect(rest.map(\.id) == Array(jobs[1...].map(\.id)))
        // A line sent back to the queue and into a later batch is that batch's, not the first's.
        try await queue.fail(
            [JobFailure(jobID: jobs[1].id, errorClass: .serverError, message: "500", retryAt: 0)],
            owner: "host-b:2:bbbb", now: 1_021)
        let retried = try await queue.claim(
            stage: .call, limit: 5, owner: "host-b:2:bbbb", leaseSeconds: 60, now: 1_022)
        #expect(retried.map(\.id) == [jobs[1].id])
        guard
            case .recorded = try await queue.recordBatch(
                Self.batch("b2", tokens: 10, lines: 1), lines: Self.lines(retried), owner: "host-b:2:bbbb", quota: 1_000
            )
        else { Issue.record("recorded"); return }
        try await queue.release(jobIDs: jobs[2...].map(\.id), owner: "host-b:2:bbbb")
        #expect(try await queue.claimBatched(batchID: batch.id, owner: "x", leaseSeconds: 60, now: 1_030).isEmpty)
        #expect(try await queue.requestBatchCancel() == 1)
        #expect(try await queue.batches(all: false).map(\.cancelRequested) == [false, true])
        await fixture.close()
    }
}
