import Scheduler

extension DeploymentQuota.Kind {
    /// A standard deployment's limits for a model: the RPM, when not given, derived from the TPM with
    /// the model's ratio in the catalog (6 per 1,000 TPM for a model it does not know); `derivedRPM` says so.
    public static func standard(
        tokensPerMinute tpm: Int?, requestsPerMinute rpm: Int?, model: String, catalog: ModelCatalog = .builtIn
    ) -> (kind: Self, derivedRPM: Bool) {
        guard rpm == nil, let tpm else { return (.standard(tokensPerMinute: tpm, requestsPerMinute: rpm), false) }
        let derived =
            catalog.facts(for: model)?.requestsPerMinute(forTokensPerMinute: tpm) ?? max(1, tpm * 6 / 1_000)
        return (.standard(tokensPerMinute: tpm, requestsPerMinute: derived), true)
    }

    /// A provisioned deployment of `ptu` PTUs of a model, with its capacity when the model's rate is known.
    public static func provisioned(ptu: Int?, model: String, catalog: ModelCatalog = .builtIn) -> Self {
        let perPTU = catalog.facts(for: model)?.provisioned?.tokensPerMinute
        return .provisioned(ptu: ptu, tokensPerMinute: ptu.flatMap { count in perPTU.map { $0 * count } })
    }
}

extension DeploymentQuota {
    /// The quota with its model's facts the scheduler paces by: how much an output token weighs on
    /// PTUs, and the RPM a learned TPM implies (6 per 1,000 TPM for a model the catalog does not know).
    public func withFacts(of model: String, catalog: ModelCatalog = .builtIn) -> Self {
        var quota = self
        let facts = catalog.facts(for: model)
        quota.outputTokenWeight = facts?.outputTokenWeight ?? 4
        quota.requestsPerThousandTokens = facts?.requestsPerThousandTokens ?? 6
        return quota
    }
}
