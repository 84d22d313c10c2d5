import ArgumentParser
import Foundation
import Pipeline
import SluiceCore

struct EnqueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enqueue",
        abstract: "Record a directory's documents for a pipeline and queue the new or changed ones.",
        discussion: """
            Prints the counts of new, changed, unchanged, skipped and deleted documents. Enqueueing an \
            unchanged directory again adds nothing; a changed file, prompt or model creates new work.
            """
    )

    @Argument(help: "The directory of documents.")
    var directory: String

    @Option(help: "The pipeline definition (YAML).")
    var pipeline: String

    @OptionGroup var database: DatabaseOptions

    @OptionGroup var selection: SelectionOptions

    @Option(
        help:
            "A deployments file whose `models:` overrides the catalog (default: deployments.yaml next to the database)."
    )
    var deployments: String?

    @Flag(help: "Print the counts as JSON.")
    var json = false

    func run() async throws {
        let queue = try await database.openQueue()
        try await reportingErrors {
            let file = deployments ?? DeploymentSelection.fileNextTo(database: database.database)
            let catalog = try file.map { try DeploymentsFile.load($0).catalog } ?? .builtIn
            let definition = try selection.apply(to: PipelineFile.load(pipeline, catalog: catalog))
            let (_, summary) = try await Enqueuer(queue: queue).enqueue(root: directory, pipeline: definition)
            report(summary, json: json)
        }
    }
}

/// Prints an enqueue summary: counts on stdout, skipped files on stderr.
func report(_ summary: EnqueueSummary, json: Bool) {
    for file in summary.skippedFiles { Terminal.status("skipped \(file.path): \(file.reason)") }
    if json {
        let counts = [
            "new": summary.new, "changed": summary.changed, "unchanged": summary.unchanged, "skipped": summary.skipped,
            "deleted": summary.deleted,
        ]
        if let data = try? JSONSerialization.data(withJSONObject: counts, options: [.sortedKeys]) {
            print(String(decoding: data, as: UTF8.self))
        }
    } else {
        print(
            "documents: \(summary.new) new, \(summary.changed) changed, \(summary.unchanged) unchanged, \(summary.skipped) skipped, \(summary.deleted) deleted"
        )
    }
}
