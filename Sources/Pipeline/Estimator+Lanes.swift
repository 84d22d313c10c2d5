import Catalog
import SluiceCore

extension Estimate {
    /// The same work online (global standard) and through the batch lane (Global Batch).
    public struct Lanes: Sendable, Codable {
        /// Expected cost at the global standard list price.
        public var onlineCost: Double
        /// Expected cost at the batch list price.
        public var batchCost: Double
        /// The enqueued-token quota of the run's batch deployment (nil: none is configured).
        public var enqueuedTokens: Int?
        /// Waves of batches that quota implies: each wave's input tokens fit it, and a wave waits for
        /// the one before (a map-reduce's reduce calls wait for their chunks: one more wave).
        public var waves: Int?

        enum CodingKeys: String, CodingKey {
            case waves
            case onlineCost = "online_cost"
            case batchCost = "batch_cost"
            case enqueuedTokens = "enqueued_tokens"
        }
    }
}

extension Estimator {
    /// Batch waves for `input` tokens within `quota` (nil without a quota).
    static func waves(input: Int, reduce: Bool, quota: Int?) -> Int? {
        guard let quota, quota > 0 else { return nil }
        return max(1, (input + quota - 1) / quota) + (reduce ? 1 : 0)
    }

    /// The lanes compared for the expected tokens, when the catalog prices the model both ways.
    static func lanes(
        _ estimate: Estimate, targets: [Target], catalog: ModelCatalog, model: String, input: Int, outputExpected: Int
    ) -> Estimate.Lanes? {
        let usage = Usage(promptTokens: input, completionTokens: outputExpected, totalTokens: input + outputExpected)
        guard let online = catalog.cost(of: usage, servedModel: nil, deployedModel: model, tier: .global)?.total,
            let batch = catalog.cost(of: usage, servedModel: nil, deployedModel: model, tier: .batch)?.total
        else { return nil }
        let quota = targets.compactMap(\.enqueuedTokens).max()
        return Estimate.Lanes(
            onlineCost: online, batchCost: batch, enqueuedTokens: quota,
            waves: waves(input: estimate.inputTokens, reduce: estimate.reduceCalls > 0, quota: quota))
    }
}
