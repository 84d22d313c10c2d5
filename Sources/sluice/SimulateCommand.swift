import ArgumentParser
import Foundation
import Simulator

struct SimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Run the built-in Azure OpenAI simulator as a server.",
        discussion: """
            Prints the base URL it listens on (stdout), then serves until SIGINT or SIGTERM. Deployments \
            not configured are created on first use with the --tpm/--rpm (standard), --ptu-tpm \
            (provisioned) or no limits. GET /sluice/stats returns its counters.
            """
    )

    @Option(help: "Port to listen on (0 picks a free one).")
    var port = 0

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "The key clients must send (api-key or Bearer).")
    var apiKey = "sim-key"

    @Option(help: "Standard deployments: tokens per minute.")
    var tpm: Int?

    @Option(help: "Standard deployments: requests per minute (default 6 per 1,000 TPM).")
    var rpm: Int?

    @Option(help: "Standard deployments: RPM window in seconds (1 or 10).")
    var rpmWindow: Double = 1

    @Option(
        help: """
            Standard deployments: how the TPM counter is charged for a prompt at arrival: chars (Azure's \
            kind of estimate: characters / 4 of the messages) or tokens (the usage's prompt tokens). \
            max_tokens is added as sent; usage.prompt_tokens is exact either way.
            """)
    var charge: SimulatorConfiguration.ChargeRule = .chars

    @Option(
        help:
            "Multiplies the prompt part of the arrival charge (e.g. 0.8 or 1.25), to rehearse a service that estimates lower or higher."
    )
    var chargeSkew: Double = 1

    @Option(help: "Provisioned deployments: input tokens per minute of capacity.")
    var ptuTpm: Int?

    @Option(help: "Simulated seconds before the first token.")
    var latency: Double = 0.2

    @Option(help: "Simulated seconds per output token.")
    var perTokenLatency: Double = 0.01

    @Option(help: "Output tokens per reply (capped by max_tokens).")
    var replyTokens = 60

    @Option(help: "Simulated time runs this many times faster than real time.")
    var speedup: Double = 1

    @Option(name: .customLong("fault-500"), help: "Rate of 500 responses (0...1).")
    var fault500: Double = 0
    @Option(name: .customLong("fault-503"), help: "Rate of 503 responses.")
    var fault503: Double = 0
    @Option(help: "Rate of connections reset in the middle of the body.")
    var faultReset: Double = 0
    @Option(help: "Rate of requests that stall past the client's timeout.")
    var faultStall: Double = 0
    @Option(help: "Seconds a stalled request hangs before the connection closes.")
    var stallSeconds: Double = 30
    @Option(help: "Rate of 200 responses with truncated JSON.")
    var faultTruncate: Double = 0
    @Option(help: "Seed of the fault draws.")
    var seed: UInt64 = 1

    @Option(help: "A Global Batch deployment of this name (repeatable), served by the Files and Batches API only.")
    var batchDeployment: [String] = []

    @Option(help: "Batch deployments: their quota of enqueued tokens.")
    var enqueuedTokens = 1_000_000

    @Option(help: "Batch API: simulated seconds an uploaded file is pending.")
    var batchPending: Double = 2

    @Option(help: "Batch API: simulated seconds a batch is validating.")
    var batchValidation: Double = 2

    @Option(help: "Batch API: lines a batch in progress completes per simulated second.")
    var batchLinesPerSecond: Double = 50

    @Option(help: "Batch API: share of lines answered 500 in the error file (0...1).")
    var batchFailedLines: Double = 0

    @Option(help: "Batch API: simulated seconds after which a batch not done expires with its partial output.")
    var batchExpiry: Double = 86_400

    @Option(help: "Batch API: real seconds between an upload, a batch creation or a download and its answer.")
    var batchAnswerDelay: Double = 0

    func run() async throws {
        var faults = SimulatorConfiguration.Faults()
        faults.serverError = fault500
        faults.serviceUnavailable = fault503
        faults.connectionReset = faultReset
        faults.stall = faultStall
        faults.stallSeconds = stallSeconds
        faults.truncatedJSON = faultTruncate
        let kind: SimulatorConfiguration.Deployment.Kind
        if let ptuTpm {
            kind = .provisioned(tokensPerMinute: ptuTpm, outputTokenWeight: 4, bucketSeconds: 10)
        } else if let tpm {
            kind = .standard(
                tokensPerMinute: tpm, requestsPerMinute: rpm ?? max(1, tpm * 6 / 1000), rpmWindowSeconds: rpmWindow)
        } else {
            kind = .unlimited
        }
        guard chargeSkew.isFinite, chargeSkew > 0, chargeSkew <= 100 else {
            throw ValidationError("--charge-skew must be a number above 0 and at most 100, not \(chargeSkew)")
        }
        var configuration = SimulatorConfiguration(
            defaultKind: kind, apiKey: apiKey, baseLatency: latency, perTokenLatency: perTokenLatency, speedUp: speedup,
            replyTokens: replyTokens, faults: faults, seed: seed)
        configuration.charge = charge
        configuration.chargeSkew = chargeSkew
        configuration.deployments = batchDeployment.map {
            .init(name: $0, kind: .batch(enqueuedTokens: max(1, enqueuedTokens)))
        }
        configuration.batches.pendingSeconds = max(0, batchPending)
        configuration.batches.validationSeconds = max(0, batchValidation)
        configuration.batches.linesPerSecond = max(0.001, batchLinesPerSecond)
        configuration.batches.failedLineShare = min(1, max(0, batchFailedLines))
        configuration.batches.expiresAfterSeconds = max(0, batchExpiry)
        configuration.batches.requestSeconds = min(60, max(0, batchAnswerDelay))
        let server = try await SimulatorServer.start(configuration: configuration, host: host, port: port)
        FileHandle.standardOutput.write(Data((server.endpoint + "\n").utf8))
        let (signals, continuation) = AsyncStream.makeStream(of: Void.self)
        let trap = SignalTrap([SIGINT, SIGTERM]) { _ in continuation.yield() }
        for await _ in signals { break }
        withExtendedLifetime(trap) {}
        try await server.stop()
    }
}

extension SimulatorConfiguration.ChargeRule: ExpressibleByArgument {}
