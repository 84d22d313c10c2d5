import Call
import Catalog
import Foundation
import Queue
import SluiceCore

extension Estimator {
    /// What `sluice estimate` is asked besides the documents: where the expected output length comes
    /// from, and the horizon of the provisioned comparison.
    public struct Request: Sendable {
        /// Expected output tokens as a fraction of max_tokens, when no sample is run.
        public var outputRatio = 0.5
        /// Requests (spread over the corpus) to send to measure the output length; 0: none.
        public var sample = 0
        /// Send the sample to the built-in simulator.
        public var simulate = false
        /// The time the provisioned comparison must finish in, in hours (nil: the pay-as-you-go time).
        public var hours: Double?

        /// The defaults: half of max_tokens expected, no sample.
        public init() {}
    }

    /// The estimate of the documents under `root` for a pipeline, on the deployments the selection
    /// gives (those the pipeline's calls may go to, as `run` chooses them).
    ///
    /// Nothing is called unless the request asks for a sample; then that many requests go to the
    /// first of those deployments (or the simulator), and their output length replaces the stated ratio.
    ///
    /// - Parameters:
    ///   - file: The deployments file read with ``DeploymentSelection/loadFile(database:)``, if any.
    ///   - queue: When given, chunks whose results it stores are left out.
    ///   - note: Told what the user should know on the way (skipped files, failed sample calls).
    public static func estimate(
        root: String, pipeline: PipelineDefinition, selection: DeploymentSelection, file: DeploymentsFile?,
        database: String, queue: (any JobQueue)?, request: Request, note: (String) -> Void = { _ in }
    ) async throws -> Estimate {
        // Without a sample nothing is called: no endpoint or credentials are needed.
        var (entries, pools, catalog) = try selection.entries(
            file: file, pipeline: pipeline, simulated: request.simulate || request.sample == 0, database: database,
            note: note)
        let scan = try await Estimator.scan(
            root: root, pipeline: pipeline, catalog: catalog, queue: queue, sampleSize: request.sample)
        for skipped in scan.skipped { note("skipped \(skipped.path): \(skipped.reason)") }
        let names = RunConfiguration.pool(
            named: pipeline.deployment, chosen: selection.chosen(among: entries), pools: pools,
            deployments: entries.map(\.name))
        var used = entries.filter { names.contains($0.name) }
        if used.isEmpty { used = entries }
        var ratio = request.outputRatio
        var source = "stated (--output-ratio \(request.outputRatio))"
        if request.sample > 0, !scan.samples.isEmpty, let first = used.first {
            let simulator =
                request.simulate ? try await selection.startSimulator(for: &entries, catalog: catalog, note: note) : nil
            let deployments = try DeploymentSelection.resolve(entries, simulated: simulator != nil)
            guard let deployment = deployments[first.name] else {
                throw SluiceError(.invalidConfiguration, "no deployment '\(first.name)' to sample")
            }
            let client = ChatCompletionClient(connectionsPerHost: 4)
            let measured = await Estimator.sample(scan.samples, to: deployment, client: client)
            try await client.shutdown()
            try await simulator?.stop()
            for outcome in measured.failed {
                note("sample call failed: \(outcome.message ?? outcome.errorClass?.rawValue ?? "?")")
            }
            var cost = 0.0
            if case .perToken(let tier) = first.billing {
                for outcome in measured.answered {
                    guard let usage = outcome.usage else { continue }
                    cost +=
                        catalog.cost(
                            of: usage, servedModel: outcome.model, deployedModel: first.model ?? pipeline.model,
                            tier: tier)?.total ?? 0
                }
            }
            if let measuredRatio = measured.outputRatio(maxTokens: pipeline.maxTokens, n: pipeline.n) {
                ratio = measuredRatio
                source =
                    "sample of \(measured.answered.count) calls to \(first.name) (\(String(format: "$%.4f", cost)))"
            }
        }
        let targets = used.map { entry in
            var target = Target(
                name: entry.name, model: entry.model ?? pipeline.model, kind: entry.quota.kind, billing: entry.billing)
            target.enqueuedTokens = entry.batch?.enqueuedTokens
            return target
        }
        return try estimate(
            scan, pipeline: pipeline, targets: targets, catalog: catalog, outputRatio: ratio,
            outputRatioSource: source, hours: request.hours)
    }
}
