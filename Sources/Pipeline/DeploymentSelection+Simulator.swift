import Catalog
import Scheduler
import Simulator
import SluiceCore

extension DeploymentSelection {
    /// Starts the built-in simulator with deployments mirroring the entries, and points them at it.
    ///
    /// - Parameter note: Told where the simulator listens.
    public func startSimulator(
        for entries: inout [DeploymentsFile.Entry], catalog: ModelCatalog, note: (String) -> Void = { _ in }
    ) async throws -> SimulatorServer {
        let simulator = try await SimulatorServer.start(
            configuration: SimulatorConfiguration(
                deployments: Self.simulated(entries, catalog: catalog), baseLatency: 0.05, perTokenLatency: 0.002,
                speedUp: timeScale))
        note("simulator listening on \(simulator.endpoint)")
        for index in entries.indices {
            entries[index].endpoint = simulator.endpoint
            entries[index].auth = .none
        }
        return simulator
    }

    /// The simulator's deployments mirroring the entries' limits (standard TPM/RPM, provisioned capacity).
    public static func simulated(_ entries: [DeploymentsFile.Entry], catalog: ModelCatalog) -> [SimulatorConfiguration
        .Deployment]
    {
        entries.map { entry in
            let kind: SimulatorConfiguration.Deployment.Kind
            switch entry.quota.kind {
            case _ where entry.batch != nil:
                kind = .batch(enqueuedTokens: entry.batch?.enqueuedTokens ?? 0)
            case .standard(let tpm?, let rpm):
                kind = .standard(
                    tokensPerMinute: tpm, requestsPerMinute: rpm ?? max(1, tpm * 6 / 1000), rpmWindowSeconds: 1)
            case .standard:
                kind = .unlimited
            case .provisioned(_, let tpm):
                kind = .provisioned(
                    tokensPerMinute: tpm ?? 150_000,
                    outputTokenWeight: catalog.facts(for: entry.model ?? "")?.outputTokenWeight ?? 4, bucketSeconds: 10)
            }
            var deployment = SimulatorConfiguration.Deployment(
                name: entry.deployment, kind: kind, model: entry.model ?? "gpt-4o-2024-08-06")
            if let facts = catalog.facts(for: deployment.model) { deployment.contextWindow = facts.contextWindow }
            return deployment
        }
    }
}
