import ArgumentParser

/// The `sluice` command: a thin layer over the Sluice libraries.
@main
struct Sluice: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sluice",
        abstract: "Push directories of documents through Azure OpenAI at the edge of their quota.",
        subcommands: [TokensCommand.self, BenchCommand.self]
    )
}
