import ArgumentParser
import Benchmarks
import Foundation
import Tokenizer

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure Sluice's throughput.",
        subcommands: [BenchTokenizerCommand.self]
    )
}

struct BenchTokenizerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenizer",
        abstract: "Tokenizer throughput, side by side with tiktoken when it is installed.",
        discussion: """
            Without files, assembles at least 24 MB of mixed real text from the machine (licences, \
            package documentation, manual pages in every installed language). tiktoken runs from \
            python3 on the same documents when `import tiktoken` works; its vocabularies are written \
            from Sluice's own copies, so nothing is downloaded.
            """
    )

    @Argument(help: "Text files to use as the corpus instead of the machine's documentation.")
    var files: [String] = []

    @Option(help: "Rounds per measurement; the best is reported.")
    var rounds = 3

    @Option(help: "Threads for the parallel measurements (default: the number of cores).")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Minimum corpus size in bytes when no files are given.")
    var corpusBytes = 24_000_000

    @Flag(help: "Skip the tiktoken reference run.")
    var noReference = false

    @Flag(help: "Print the report as JSON on stdout.")
    var json = false

    func run() throws {
        let encodings: [EncodingName] = [.o200kBase, .cl100kBase]
        let load = TokenizerBenchmark.measureLoad(encodings)
        let corpus = files.isEmpty ? TextCorpus.machineText(minimumBytes: corpusBytes) : try TextCorpus.files(files)
        guard corpus.byteCount > 0 else { throw ValidationError("the corpus is empty") }
        let benchmark = TokenizerBenchmark(
            rounds: rounds, threads: threads, reference: !noReference, encodings: encodings)
        var report = benchmark.run(corpus: corpus, loadMilliseconds: load) { Terminal.status($0) }
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        report.processMilliseconds = TokenizerBenchmark.measureFreshProcess(
            executable: executable, encodings: encodings)
        if json {
            print(try report.json())
        } else {
            print(report.formatted())
        }
    }
}
