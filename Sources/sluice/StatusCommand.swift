import ArgumentParser
import Foundation
import Queue
import Scheduler
import SluiceCore

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Counts per stage and state, failures by error class.")

    @OptionGroup var database: DatabaseOptions

    @Flag(help: "Print as JSON.")
    var json = false

    func run() async throws {
        let queue = database.isPostgres ? try await database.openQueue() : try database.openForReading()
        try await reportingErrors {
            let statistics = try await queue.statistics()
            let failures = try await queue.failures(limit: 50)
            // Written by a running `sluice run` each progress interval.
            let state = try await queue.runState(key: "deployments")
            let deployments = state.flatMap { try? JSONDecoder().decode([DeploymentStatus].self, from: $0.value) } ?? []
            let age = state.map { Date().timeIntervalSince1970 - $0.updated }
            let spend = try await queue.spendReport(documents: 5)
            // A database of a Sluice before heartbeats (opened read-only, not migrated) has no workers table.
            let now = Date().timeIntervalSince1970
            let workers = ((try? await queue.workers()) ?? []).filter { now - $0.heartbeat < 30 }
            // Nor one before the batch lane a batches table.
            let batches = (try? await queue.batches(all: false)) ?? []
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                struct Status: Encodable {
                    let statistics: QueueStatistics
                    let failures: [FailedJob]
                    let deployments: [DeploymentStatus]
                    let deploymentsAgeSeconds: Double?
                    let spend: SpendReport
                    let cost: Double
                    let workers: [WorkerRecord]
                    let batches: [BatchRecord]
                }
                let status = Status(
                    statistics: statistics, failures: failures, deployments: deployments, deploymentsAgeSeconds: age,
                    spend: spend, cost: spend.total, workers: workers, batches: batches)
                print(String(decoding: try encoder.encode(status), as: UTF8.self))
                return
            }
            print("stage     ready  leased    done  failed waiting batched")
            for stage in Stage.allCases {
                let cells = JobState.allCases.map { String(statistics.count(stage, $0)).leftPadded(7) }
                print(stage.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0) + cells.joined(separator: " "))
            }
            let documents = statistics.documents.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }
            print("documents: " + (documents.isEmpty ? "none" : documents.joined(separator: ", ")))
            if !statistics.failuresByClass.isEmpty {
                print(
                    "failures: "
                        + statistics.failuresByClass.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(
                            separator: ", "))
            }
            if !statistics.retryingByClass.isEmpty {
                print(
                    "waiting to retry: "
                        + statistics.retryingByClass.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(
                            separator: ", "))
            }
            for line in spendLines(spend) { print(Printable.escaped(line)) }
            print("workers: " + (workers.isEmpty ? "none running" : "\(workers.count) running"))
            for worker in workers {
                print(
                    Printable.escaped(
                        "  \(worker.owner): up \(Int(now - worker.started)) s, last heartbeat \(Int(now - worker.heartbeat)) s ago"
                    ))
            }
            if !batches.isEmpty {
                print("batches in flight: \(batches.count)")
                for batch in batches {
                    let status = batch.status.map { "\($0), " } ?? ""
                    let refused = batch.refusals > 0 ? ", refused \(batch.refusals)× for the quota" : ""
                    print(
                        Printable.escaped(
                            "  \(batch.batchID ?? batch.name) (\(batch.deployment)): \(batch.step.rawValue), \(status)\(batch.completed)/\(batch.lines) completed, \(batch.failed) failed, \(batch.inputTokens) input tokens, age \(Int(now - batch.created)) s\(refused)\(batch.cancelRequested ? ", cancel asked" : "")"
                        ))
                }
            }
            if let age, !deployments.isEmpty {
                print(
                    age < 30
                        ? "deployments (running):"
                        : String(format: "deployments (as of the last run, %.0f s ago):", age))
                for line in deploymentLines(deployments) { print(line) }
            }
            for failure in failures {
                print(
                    Printable.escaped(
                        "failed \(failure.stage.rawValue) \(failure.key): \(failure.errorClass): \(failure.message)"))
            }
        }
    }
}

struct RetryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retry",
        abstract: "Put every terminal failure back in the queue (run again to process them).",
        discussion: "A retried chunk that succeeds gets a new line in the output; the latest line per custom_id wins."
    )

    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        let queue = try await database.openQueue()
        try await reportingErrors {
            let count = try await queue.retryFailed()
            print("\(count) failed jobs queued again")
        }
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}
