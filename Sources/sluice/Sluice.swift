import ArgumentParser

/// The `sluice` command: a thin layer over the Sluice libraries.
@main
struct Sluice: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sluice",
        abstract: "Push directories of documents through Azure OpenAI at the edge of their quota.",
        discussion: """
            Exit status: 0 all done; 1 finished, but some documents or chunks failed for good; \
            2 stopped (signal) before the queue was drained; 3 configuration error; 4 database or \
            output error; 64 usage error.
            """,
        subcommands: [
            EnqueueCommand.self, EstimateCommand.self, RunCommand.self, StatusCommand.self, RetryCommand.self,
            ExportCommand.self, CancelCommand.self, DeploymentsCommand.self,
            SimulateCommand.self,
            ExtractCommand.self, ChunkCommand.self,
            TokensCommand.self,
        ]
    )
}

/// Exit statuses (see the README).
enum ExitStatus {
    static let failures = ExitCode(1)
    static let interrupted = ExitCode(2)
    static let configuration = ExitCode(3)
    static let storage = ExitCode(4)
}
