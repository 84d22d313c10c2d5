import ArgumentParser
import Collect
import Foundation
import Queue
import SluiceCore

struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write the JSONL of everything done, rebuilt from the queue.",
        discussion: """
            One line per unit of work — the latest attempt's, so a chunk that failed and later succeeded \
            has its success — in the order the lines were committed, the same lines `run --output` writes. \
            Works on SQLite and PostgreSQL; the file is written beside OUTPUT and renamed over it at the end.
            """
    )

    @OptionGroup var database: DatabaseOptions

    @Option(help: "The JSONL file to write (replaced).")
    var output: String

    @Option(help: "Only the runs of this pipeline (its name).")
    var run: String?

    func run() async throws {
        if !database.isPostgres && !FileManager.default.fileExists(atPath: database.database) {
            Terminal.error("\(database.database): no such database")
            throw ExitStatus.storage
        }
        let queue = try await database.openQueue()
        try await reportingErrors {
            var runIDs: [Int64]?
            if let run {
                let chosen = try await queue.runs().filter { $0.pipeline.name == run }.map(\.id)
                guard !chosen.isEmpty else { throw SluiceError(.notFound, "no run of a pipeline named '\(run)'") }
                runIDs = chosen
            }
            let summary = try await Exporter.export(queue: queue, runIDs: runIDs, to: output) {
                Terminal.status(Printable.escaped($0))
            }
            Terminal.status("exported \(summary.lines) lines to \(output)")
            if summary.lostBefore > 0 {
                Terminal.error(
                    "\(summary.lostBefore) lines were committed by an older sluice that did not keep them for export: they are in that run's --output file only"
                )
            }
            if summary.unreadable > 0 { throw ExitStatus.failures }
        }
        if let postgres = queue as? PostgresJobQueue { await postgres.close() }
    }
}
