import Dispatch
import Foundation
import Ingest
import SluiceCore
import SluiceTesting
import Testing
import Tools

/// Blocking calls run off the cooperative pool and give up at their deadline.
///
/// The calls here block until the test lets them go, after its expectations: an implementation that
/// waited for them (or ran them on the cooperative pool) would hang, and the time limit fails it.
/// They block threads of a pool of their own, not the shared one other suites read files with.
@Suite(.timeLimit(.minutes(1))) struct BlockingWorkTests {
    @Test func aCallStillBlockedAtItsDeadlineEndsWithAnErrorNamingIt() async throws {
        let pool = BlockingWork.started(threads: 2)
        defer { pool.shutdownGracefully { _ in } }
        let gate = DispatchSemaphore(value: 0)
        defer { gate.signal() }
        let error = await #expect(throws: BlockingWork.TimedOut.self) {
            try await BlockingWork.run("reading stuck.pdf", timeout: .milliseconds(200), on: pool) { gate.wait() }
        }
        #expect(error?.description.contains("reading stuck.pdf") == true)
        // A call that returns in time gives its value.
        #expect(try await BlockingWork.run("adding", timeout: .seconds(10), on: pool) { 2 + 2 } == 4)
        // A deadline of any size is taken (capped), not an overflow.
        #expect(try await BlockingWork.run("adding", timeout: .seconds(Int64.max), on: pool) { 3 + 3 } == 6)
    }

    @Test func cancellingTheCallerReturnsAtOnce() async throws {
        let pool = BlockingWork.started(threads: 1)
        defer { pool.shutdownGracefully { _ in } }
        let gate = DispatchSemaphore(value: 0)
        defer { gate.signal() }
        let task = Task {
            try await BlockingWork.run("waiting", timeout: .seconds(600), on: pool) { gate.wait() }
        }
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
    }

    /// More blocked calls than there are cores leave the cooperative pool free for other work.
    @Test func blockedCallsDoNotHoldTheCooperativePool() async throws {
        let blocked = ProcessInfo.processInfo.activeProcessorCount * 2 + 2
        let pool = BlockingWork.started(threads: blocked)
        defer { pool.shutdownGracefully { _ in } }
        let gate = DispatchSemaphore(value: 0)
        let calls = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<blocked {
                    group.addTask {
                        try await BlockingWork.run("call \(index)", timeout: .seconds(60), on: pool) { gate.wait() }
                    }
                }
                try await group.waitForAll()
            }
        }
        // Meanwhile async work on the pool goes on: many short tasks finish while every call blocks.
        let sum = await withTaskGroup(of: Int.self) { group in
            for value in 1...100 {
                group.addTask {
                    await Task.yield(); return value
                }
            }
            return await group.reduce(0, +)
        }
        #expect(sum == 5_050)
        for _ in 0..<blocked { gate.signal() }
        try await calls.value
    }

    /// A FIFO put where a document was (its reader would wait for a writer forever) fails that
    /// document promptly, naming it; it never holds a thread of the run.
    @Test func aFIFOPutWhereAFileWasFailsThatDocumentNamingIt() async throws {
        let directory = try TemporaryDirectory()
        let fifo = directory.file("stuck.txt")
        #expect(mkfifo(fifo, 0o600) == 0)
        defer {
            // Opening the write end would let a reader still waiting go.
            let writer = open(fifo, O_WRONLY | O_NONBLOCK)
            if writer >= 0 { close(writer) }
        }
        let error = await #expect(throws: TextExtractor.Failure.self) {
            try await TextExtractor.read(file: fifo, timeout: .milliseconds(300))
        }
        #expect(error?.message.contains("stuck.txt") == true, "\(error?.message ?? "")")
        #expect(error?.cancelled == false)
    }
}
