import ArgumentParser
import Foundation
import Pipeline
import Queue
import SluiceCore

struct CancelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel",
        abstract: "Cancel this database's batches in flight and collect what they answered.",
        discussion: """
            Batches not submitted yet end at once; running ones are cancelled on the service, and \
            their partial output is committed and written to the output file. The calls they did not \
            answer go back to the queue: `sluice run` sends them in a later batch. When a `sluice run` \
            is working the database, it does the cancelling itself.
            """
    )

    @OptionGroup var database: DatabaseOptions

    @Option(help: "The JSONL output file (default: next to the database, <db>.jsonl).")
    var output: String?

    @OptionGroup(title: "Deployments") var target: DeploymentOptions

    func run() async throws {
        let queue = try await database.openQueue()
        let shared = database.isPostgres
        let cancellation = try await reportingErrors {
            let file = try target.selection.loadFile(database: database.database)
            let prepared = try await PreparedRun.make(
                queue: queue, database: database, target: target, file: file,
                definition: try await queue.runs().last?.pipeline, simulate: false,
                outputPath: shared ? "" : output ?? database.defaultOutput, lock: nil, maxAttempts: 6, maxCost: nil,
                force: false)
            let result: Result<BatchCancellation, any Error>
            do {
                result = .success(try await prepared.runner.cancelBatches())
            } catch {
                result = .failure(error)
            }
            try await prepared.shutdown()
            return try result.get()
        }
        guard cancellation.drivenHere else {
            Terminal.status(
                "asked \(cancellation.asked) batches to be cancelled: the running `sluice run` cancels them and collects their output"
            )
            return
        }
        let answered = cancellation.batches.reduce(0) { $0 + $1.completed }
        let lines = cancellation.batches.reduce(0) { $0 + $1.lines }
        Terminal.status(
            "cancelled \(cancellation.batches.count) batches: \(answered) of their \(lines) calls were answered and collected; the other \(lines - answered) are back in the queue (`sluice run` sends them again)"
        )
        for batch in cancellation.batches {
            Terminal.status(
                Printable.escaped(
                    "  \(batch.batchID ?? batch.name) (\(batch.deployment)): \(batch.status ?? batch.step.rawValue), \(batch.completed)/\(batch.lines) answered"
                ))
        }
        if let summary = cancellation.summary, !summary.output.isEmpty { Terminal.status("output: \(summary.output)") }
    }
}
