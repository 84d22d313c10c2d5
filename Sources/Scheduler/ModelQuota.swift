/// Per-model quota facts Azure publishes: how RPM derives from TPM on standard deployments, and
/// what one PTU buys on provisioned ones.
public struct ModelQuota: Sendable, Hashable {
    /// Requests per minute granted per 1,000 tokens per minute (standard deployments).
    public var requestsPerThousandTokens: Double
    /// Input tokens per minute one PTU provides, when published.
    public var tokensPerMinutePerPTU: Int?
    /// How many input tokens one output token counts as on a provisioned deployment.
    public var outputTokenWeight: Int

    public init(requestsPerThousandTokens: Double, tokensPerMinutePerPTU: Int?, outputTokenWeight: Int) {
        self.requestsPerThousandTokens = requestsPerThousandTokens
        self.tokensPerMinutePerPTU = tokensPerMinutePerPTU
        self.outputTokenWeight = outputTokenWeight
    }

    /// Longest matching prefix wins; unknown models get 6 RPM per 1,000 TPM and no PTU figure.
    static let table: [(prefix: String, quota: ModelQuota)] = [
        ("gpt-4o-mini", ModelQuota(requestsPerThousandTokens: 6, tokensPerMinutePerPTU: 37_000, outputTokenWeight: 4)),
        ("gpt-4o", ModelQuota(requestsPerThousandTokens: 6, tokensPerMinutePerPTU: 2_500, outputTokenWeight: 4)),
        ("gpt-4.1-nano", ModelQuota(requestsPerThousandTokens: 6, tokensPerMinutePerPTU: 59_400, outputTokenWeight: 4)),
        ("gpt-4.1-mini", ModelQuota(requestsPerThousandTokens: 6, tokensPerMinutePerPTU: 14_900, outputTokenWeight: 4)),
        ("gpt-4.1", ModelQuota(requestsPerThousandTokens: 6, tokensPerMinutePerPTU: 3_000, outputTokenWeight: 4)),
        ("gpt-5-mini", ModelQuota(requestsPerThousandTokens: 1, tokensPerMinutePerPTU: 23_750, outputTokenWeight: 8)),
        ("gpt-5", ModelQuota(requestsPerThousandTokens: 1, tokensPerMinutePerPTU: 4_750, outputTokenWeight: 8)),
        ("o1", ModelQuota(requestsPerThousandTokens: 1.0 / 6, tokensPerMinutePerPTU: nil, outputTokenWeight: 4)),
        ("o3-mini", ModelQuota(requestsPerThousandTokens: 0.1, tokensPerMinutePerPTU: nil, outputTokenWeight: 4)),
        ("o3", ModelQuota(requestsPerThousandTokens: 1, tokensPerMinutePerPTU: 3_000, outputTokenWeight: 4)),
        ("o4-mini", ModelQuota(requestsPerThousandTokens: 1, tokensPerMinutePerPTU: 5_400, outputTokenWeight: 4)),
    ]

    /// The facts for a model name (case-insensitive, an `azure/` prefix ignored).
    public static func forModel(_ model: String) -> ModelQuota {
        var name = model.lowercased()
        if name.hasPrefix("azure/") { name.removeFirst(6) }
        let match = table.filter { name.hasPrefix($0.prefix) }.max { $0.prefix.count < $1.prefix.count }
        return match?.quota
            ?? ModelQuota(requestsPerThousandTokens: 6, tokensPerMinutePerPTU: nil, outputTokenWeight: 4)
    }

    /// The RPM Azure derives from a TPM for this model.
    public func requestsPerMinute(forTokensPerMinute tpm: Int) -> Int {
        max(1, Int((Double(tpm) / 1_000 * requestsPerThousandTokens).rounded(.down)))
    }
}

extension DeploymentQuota.Kind {
    /// A standard deployment's limits for a model: the RPM, when not given, derived from the TPM with
    /// the model's ratio (`derivedRPM` says so).
    public static func standard(tokensPerMinute tpm: Int?, requestsPerMinute rpm: Int?, model: String) -> (
        kind: Self, derivedRPM: Bool
    ) {
        guard rpm == nil, let tpm else { return (.standard(tokensPerMinute: tpm, requestsPerMinute: rpm), false) }
        let derived = ModelQuota.forModel(model).requestsPerMinute(forTokensPerMinute: tpm)
        return (.standard(tokensPerMinute: tpm, requestsPerMinute: derived), true)
    }

    /// A provisioned deployment of `ptu` PTUs of a model, with its capacity when the model's rate is known.
    public static func provisioned(ptu: Int?, model: String) -> Self {
        let perPTU = ModelQuota.forModel(model).tokensPerMinutePerPTU
        return .provisioned(ptu: ptu, tokensPerMinute: ptu.flatMap { count in perPTU.map { $0 * count } })
    }

    public var isProvisioned: Bool {
        if case .provisioned = self { return true }
        return false
    }
}
