/// What a provisioned deployment's requests turn out to cost its PTUs, learned from their usage:
/// how the service's prompt count compares with Sluice's estimate, the share of the prompt served from
/// the cache (PTUs do not process cached tokens), and the share of max_tokens replies use.
///
/// Starts from the documented worst case (no cache, replies as long as max_tokens) and follows the
/// usage with exponential averages, so a change of content is followed within tens of calls.
struct ProvisionedUsage: Sendable, Hashable {
    /// Service prompt tokens per token of Sluice's estimate.
    private(set) var promptRatio = 1.0
    /// Cached prompt tokens as a share of the prompt.
    private(set) var cachedShare = 0.0
    /// Completion tokens as a share of max_tokens.
    private(set) var completionShare = 1.0
    private(set) var samples = 0

    /// The tokens a request is expected to cost the capacity: prompt − cached + output × weight.
    func expectedCost(prompt: Double, maxTokens: Double, outputWeight: Int) -> Double {
        promptRatio * prompt * (1 - cachedShare) + completionShare * maxTokens * Double(outputWeight)
    }

    mutating func learn(_ report: CallReport, prompt: Double, maxTokens: Double) {
        guard report.promptTokens > 0 else { return }
        samples += 1
        // Quick at first (the starting point is a bound, not a guess), then steadier.
        let weight = max(0.05, 1 / Double(samples))
        if prompt > 0 {
            promptRatio += weight * (min(5, max(0.2, Double(report.promptTokens) / prompt)) - promptRatio)
        }
        let cached = min(1, Double(max(0, report.cachedTokens)) / Double(report.promptTokens))
        cachedShare += weight * (cached - cachedShare)
        if maxTokens > 0 {
            completionShare += weight * (min(1, Double(report.completionTokens) / maxTokens) - completionShare)
        }
    }
}
