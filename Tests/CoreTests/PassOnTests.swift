import Foundation
import Queue
import SluiceCore
import SluiceTesting
import Testing

/// A document whose path one host cannot read goes to a worker of another host; it fails, naming the
/// hosts, once every host with a live worker has tried; `retry` lets them all try again.
@Suite struct PassOnTests {
    static let (a, b) = ("host-a:11:aaaa", "host-b:22:bbbb")

    /// A queue with workers of hosts A and B alive at 1,000 and one ingest job, which A claimed at
    /// 1,001 and passed on at 1,002.
    static func passedOnByHostA(_ backend: QueueBackend) async throws -> (BackendFixture, Job) {
        let fixture = try await backend.fixture()
        let queue = fixture.queue
        try await queue.heartbeat(owner: a, now: 1_000)
        try await queue.heartbeat(owner: b, now: 1_000)
        try await queue.enqueue([NewJob(runID: fixture.run.id, stage: .ingest, key: "a", payload: Data("{}".utf8))])
        let job = try #require(
            try await queue.claim(stage: .ingest, limit: 5, owner: a, leaseSeconds: 60, now: 1_001).first)
        try await queue.commit([.passedOn(unreadable(job))], owner: a, now: 1_002)
        return (fixture, job)
    }

    static func unreadable(_ job: Job) -> JobFailure {
        JobFailure(jobID: job.id, errorClass: .unreadableDocument, message: "/data/a.txt: cannot read", retryAt: nil)
    }

    @Test(arguments: QueueBackend.available) func aJobOneHostCannotWorkGoesToAnother(_ backend: QueueBackend)
        async throws
    {
        let (fixture, job) = try await Self.passedOnByHostA(backend)
        let queue = fixture.queue
        let (a, b) = (Self.a, Self.b)
        // Ready, but not for host A (another of its workers included) for a minute.
        #expect(try await queue.statistics().count(.ingest, .ready) == 1)
        #expect(
            try await queue.claim(stage: .ingest, limit: 5, owner: "host-a:12:cccc", leaseSeconds: 60, now: 1_003)
                .isEmpty)
        let second = try await queue.claim(stage: .ingest, limit: 5, owner: b, leaseSeconds: 60, now: 1_004)
        #expect(second.map(\.id) == [job.id])
        // Both live hosts have tried: failed for good, and the message says where.
        try await queue.commit([.passedOn(Self.unreadable(job))], owner: b, now: 1_005)
        let failures = try await queue.failures(limit: 10)
        #expect(failures.count == 1)
        let message = try #require(failures.first?.message)
        #expect(message.contains("cannot read") && message.contains("host-a, host-b"), "\(message)")
        // Once the storage is fixed, `retry` lets every host try again.
        #expect(try await queue.retryFailed() == 1)
        #expect(try await queue.claim(stage: .ingest, limit: 5, owner: a, leaseSeconds: 60, now: 1_006).count == 1)
        await fixture.close()
    }

    @Test(arguments: QueueBackend.available) func aJobPassedOnDoesNotWaitForAHostThatLeft(_ backend: QueueBackend)
        async throws
    {
        let fixture = try await backend.fixture()
        let queue = fixture.queue
        let a = "host-a:11:aaaa"
        try await queue.heartbeat(owner: a, now: 1_000)
        // Host B's worker was last heard of 100 s ago: gone.
        try await queue.heartbeat(owner: "host-b:22:bbbb", now: 900)
        try await queue.enqueue([NewJob(runID: fixture.run.id, stage: .ingest, key: "a", payload: Data("{}".utf8))])
        let job = try #require(
            try await queue.claim(stage: .ingest, limit: 5, owner: a, leaseSeconds: 60, now: 1_001).first)
        try await queue.commit([.passedOn(Self.unreadable(job))], owner: a, now: 1_002, workerTimeout: 30)
        // The only live host tried: failed at once, with the host's own message.
        let failures = try await queue.failures(limit: 10)
        #expect(failures.map(\.message) == ["/data/a.txt: cannot read"])
        await fixture.close()
    }

    @Test(arguments: QueueBackend.available) func aHostMayTryAgainAfterAMinute(_ backend: QueueBackend) async throws {
        let (fixture, job) = try await Self.passedOnByHostA(backend)
        let queue = fixture.queue
        let a = Self.a
        // Host B's worker never claims it (busy, or stuck): host A is not kept from it for ever.
        #expect(try await queue.claim(stage: .ingest, limit: 5, owner: a, leaseSeconds: 60, now: 1_061).isEmpty)
        let again = try await queue.claim(stage: .ingest, limit: 5, owner: a, leaseSeconds: 60, now: 1_063)
        #expect(again.map(\.id) == [job.id])
        await fixture.close()
    }
}
