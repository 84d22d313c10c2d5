import Catalog
import SluiceCore

/// How one deployment's calls are priced for a pipeline: the catalog, the deployment's billing and model.
public struct Pricing: Sendable {
    let catalog: ModelCatalog
    let billing: Billing
    /// The deployment's model (the pipeline's when the deployment names none).
    let deployedModel: String

    /// Prices of the deployed model under a deployment's billing, from the catalog.
    public init(catalog: ModelCatalog, billing: Billing, deployedModel: String) {
        self.catalog = catalog
        self.billing = billing
        self.deployedModel = deployedModel
    }

    /// The list-price cost of a call's usage; nil for provisioned deployments (paid by the hour) and
    /// models without a price.
    public func cost(of usage: Usage, servedModel: String?) -> CostRecord? {
        guard case .perToken(let tier) = billing,
            let cost = catalog.cost(of: usage, servedModel: servedModel, deployedModel: deployedModel, tier: tier)
        else { return nil }
        return CostRecord(
            input: cost.input, cachedInput: cost.cachedInput, output: cost.output, model: cost.pricedModel,
            tier: tier.rawValue)
    }

    /// The most a request can cost: its whole prompt uncached and max_tokens of output (× n).
    public func maximumCost(_ input: CallInput, n: Int) -> Double {
        guard case .perToken(let tier) = billing else { return 0 }
        // The charge is (prompt + max_tokens) × n; the prompt is billed once.
        let n = max(1, n)
        let output = (input.charge / n - input.promptTokens) * n
        return catalog.maximumCost(
            promptTokens: input.promptTokens, maxTokens: max(0, output), deployedModel: deployedModel, tier: tier) ?? 0
    }
}
