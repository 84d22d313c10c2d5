import ArgumentParser
import Call
import Dispatch
import Foundation
import Pipeline
import Queue
import Simulator
import SluiceCore
import Synchronization

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Enqueue a directory (if given), then work the queue until it is drained.",
        discussion: """
            Running it again resumes: finished work is never redone and committed calls are never sent \
            again, even after kill -9. Configuration comes from AZURE_OPENAI_ENDPOINT, \
            AZURE_OPENAI_API_KEY (or AZURE_OPENAI_AD_TOKEN for a bearer token) and OPENAI_API_VERSION, \
            overridden by the flags. With --simulate the built-in simulator runs in this process and \
            nothing leaves the machine.
            """
    )

    @Argument(help: "A directory of documents to enqueue first.")
    var directory: String?

    @Option(help: "The pipeline definition (YAML); required with a directory.")
    var pipeline: String?

    @OptionGroup var database: DatabaseOptions

    @OptionGroup var selection: SelectionOptions

    @Option(help: "The JSONL output file (default: next to the database, <db>.jsonl).")
    var output: String?

    @Option(help: "The endpoint, e.g. https://my-resource.openai.azure.com (default: $AZURE_OPENAI_ENDPOINT).")
    var endpoint: String?

    @Option(help: "The deployment to call (default: the pipeline's).")
    var deployment: String?

    @Option(help: "URL shape: azure (dated api-version URL), azure-v1 (/openai/v1) or openai (OpenAI-compatible /v1).")
    var api: APIShape = .azure

    @Option(help: "The api-version of the azure shape (default: $OPENAI_API_VERSION or 2024-10-21).")
    var apiVersion: String?

    @Option(help: "The environment variable holding the API key.")
    var apiKeyEnv = "AZURE_OPENAI_API_KEY"

    @Option(help: "Requests in flight at most.")
    var concurrency = 16

    @Option(help: "Tokens per minute to stay under (the deployment's TPM).")
    var tpm: Int?

    @Option(help: "Requests per minute to stay under (the deployment's RPM).")
    var rpm: Int?

    @Option(help: "Per-request timeout in seconds.")
    var timeout: Double = 120

    @Option(help: "Attempts per call before a retryable failure becomes terminal (429s do not count).")
    var maxAttempts = 6

    @Flag(help: "Start the built-in simulator in this process and call it.")
    var simulate = false

    @Option(help: "Seconds between progress lines when stderr is not a terminal.")
    var progressInterval: Double = 5

    @Flag(help: "Print the summary as JSON on stdout.")
    var json = false

    enum APIShape: String, ExpressibleByArgument, CaseIterable {
        case azure
        case azureV1 = "azure-v1"
        case openai
    }

    func validate() throws {
        if directory != nil && pipeline == nil { throw ValidationError("--pipeline is required with a directory") }
    }

    func run() async throws {
        let queue = try database.open()
        let outputPath = output ?? database.defaultOutput
        let summary: RunSummary = try await reportingErrors {
            var definition: PipelineDefinition?
            if let pipeline {
                definition = try selection.apply(to: PipelineFile.load(pipeline))
            }
            if let directory, let definition {
                let (_, enqueued) = try await Enqueuer(queue: queue).enqueue(root: directory, pipeline: definition)
                for file in enqueued.skippedFiles { Terminal.status("skipped \(file.path): \(file.reason)") }
                Terminal.status(
                    "enqueued \(directory): \(enqueued.new) new, \(enqueued.changed) changed, \(enqueued.unchanged) unchanged, \(enqueued.skipped) skipped, \(enqueued.deleted) deleted"
                )
            }
            let simulator: SimulatorServer? =
                simulate
                ? try await SimulatorServer.start(
                    configuration: SimulatorConfiguration(baseLatency: 0.05, perTokenLatency: 0.002)) : nil
            if let simulator { Terminal.status("simulator listening on \(simulator.endpoint)") }
            let target = try makeDeployment(simulator: simulator, pipeline: definition, queue: queue)
            let client = ChatCompletionClient(connectionsPerHost: concurrency)
            let runner = PipelineRunner(
                queue: queue, databasePath: database.database,
                configuration: RunConfiguration(
                    outputPath: outputPath, deployments: [target.name: target], defaultDeployment: target.name,
                    retry: RetryPolicy(maxAttempts: maxAttempts)),
                client: client)
            let display = ProgressDisplay(interval: progressInterval)
            let task = Task { try await runner.run { display.show($0) } }
            let signals = SignalTrap([SIGINT, SIGTERM]) { count in
                if count > 1 {
                    // A second signal stops at once; the next run reclaims what this one held.
                    Terminal.status("stopping now")
                    Foundation.exit(ExitStatus.interrupted.rawValue)
                }
                Terminal.status("stopping: finishing what is in flight (signal again to stop at once)")
                task.cancel()
            }
            defer { withExtendedLifetime(signals) {} }
            let result = await task.result
            display.finish()
            try await client.shutdown()
            try await simulator?.stop()
            return try result.get()
        }
        printSummary(summary)
        if summary.interrupted || summary.pending > 0 { throw ExitStatus.interrupted }
        if summary.chunksFailed > 0 || !summary.failuresByClass.isEmpty { throw ExitStatus.failures }
    }

    /// The deployment from flags and environment, or the simulator.
    private func makeDeployment(simulator: SimulatorServer?, pipeline: PipelineDefinition?, queue: SQLiteJobQueue)
        throws -> Deployment
    {
        let environment = ProcessInfo.processInfo.environment
        let name = deployment ?? pipeline?.deployment ?? (simulator != nil ? "sim" : nil)
        if let simulator {
            return Deployment(
                name: name ?? "sim", endpoint: simulator.endpoint, api: api.deployment(apiVersion: "2024-10-21"),
                deployment: name ?? "sim", authentication: .apiKey("sim-key"), timeoutSeconds: timeout,
                maxConcurrency: concurrency, tokensPerMinute: tpm, requestsPerMinute: rpm)
        }
        guard let endpoint = endpoint ?? environment["AZURE_OPENAI_ENDPOINT"], !endpoint.isEmpty else {
            throw SluiceError(
                .invalidConfiguration, "no endpoint: pass --endpoint or set AZURE_OPENAI_ENDPOINT (or use --simulate)")
        }
        guard let name else {
            throw SluiceError(.invalidConfiguration, "no deployment: pass --deployment or name one in the pipeline")
        }
        let authentication: Deployment.Authentication
        if let key = environment[apiKeyEnv], !key.isEmpty {
            authentication = api == .openai ? .bearer(key) : .apiKey(key)
        } else if let token = environment["AZURE_OPENAI_AD_TOKEN"], !token.isEmpty {
            authentication = .bearer(token)
        } else {
            throw SluiceError(
                .invalidConfiguration,
                "no credentials: set \(apiKeyEnv) (or AZURE_OPENAI_AD_TOKEN for an Entra ID token)")
        }
        let version = apiVersion ?? environment["OPENAI_API_VERSION"] ?? "2024-10-21"
        return Deployment(
            name: name, endpoint: endpoint, api: api.deployment(apiVersion: version), deployment: name,
            authentication: authentication, timeoutSeconds: timeout, maxConcurrency: concurrency, tokensPerMinute: tpm,
            requestsPerMinute: rpm)
    }

    private func printSummary(_ summary: RunSummary) {
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            if let data = try? encoder.encode(summary) { print(String(decoding: data, as: UTF8.self)) }
        }
        let failures = summary.failuresByClass.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }
        var lines = [
            "documents: \(summary.documents) (\(summary.skippedDocuments) skipped)",
            "chunks: \(summary.chunks) (\(summary.chunksSucceeded) succeeded, \(summary.chunksFailed) failed)",
            "calls: \(summary.calls) sent, \(summary.reused) reused from earlier results, \(summary.rateLimited) answered 429",
            "failures: " + (failures.isEmpty ? "none" : failures.joined(separator: ", ")),
            "tokens: \(summary.promptTokens) in, \(summary.completionTokens) out",
            String(format: "wall time: %.1f s, %.0f tokens/min", summary.wallSeconds, summary.tokensPerMinute),
            "output: \(summary.output)",
        ]
        if summary.pending > 0 { lines.append("stopped with \(summary.pending) jobs pending: run again to resume") }
        for line in lines { Terminal.status(line) }
    }
}

extension RunCommand.APIShape {
    func deployment(apiVersion: String) -> Deployment.API {
        switch self {
        case .azure: .azure(apiVersion: apiVersion)
        case .azureV1: .azureV1
        case .openai: .openAICompatible
        }
    }
}

/// Calls a handler on the given signals (instead of the default of terminating), with the number of
/// signals received so far.
final class SignalTrap {
    private let sources: [any DispatchSourceSignal]
    private let received = SignalCounter()

    init(_ signals: [Int32], handler: @escaping @Sendable (Int) -> Void) {
        let received = self.received
        sources = signals.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { handler(received.count.wrappingAdd(1, ordering: .relaxed).newValue) }
            source.resume()
            return source
        }
    }

    deinit { for source in sources { source.cancel() } }
}

/// How many signals a trap has received.
final class SignalCounter: Sendable {
    let count = Atomic<Int>(0)
}
