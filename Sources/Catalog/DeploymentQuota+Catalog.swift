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
