import Catalog
import SluiceCore

/// How one deployment's calls are priced for a pipeline: the catalog, the deployment's billing and model.
struct Pricing: Sendable {
    let catalog: ModelCatalog
    let billing: Billing
    /// The deployment's model (the pipeline's when the deployment names none).
    let deployedModel: String

    /// The list-price cost of a call's usage; nil for provisioned deployments (paid by the hour) and
    /// models without a price.
    func cost(of usage: Usage, servedModel: String?) -> CostRecord? {
        guard case .perToken(let tier) = billing,
            let cost = catalog.cost(of: usage, servedModel: servedModel, deployedModel: deployedModel, tier: tier)
        else { return nil }
        return CostRecord(
            input: cost.input, cachedInput: cost.cachedInput, output: cost.output, model: cost.pricedModel,
            tier: tier.rawValue)
    }

    /// The most a request can cost: its whole prompt uncached and max_tokens of output (× n).
    func maximumCost(_ input: CallInput, n: Int) -> Double {
        guard case .perToken(let tier) = billing else { return 0 }
        // The charge is (prompt + max_tokens) × n; the prompt is billed once.
        let n = max(1, n)
        let output = (input.charge / n - input.promptTokens) * n
        return catalog.maximumCost(
            promptTokens: input.promptTokens, maxTokens: max(0, output), deployedModel: deployedModel, tier: tier) ?? 0
    }
}

extension PipelineRunner {
    /// The pricing of a deployment's calls for a pipeline.
    func pricing(deployment: String, pipeline: PipelineDefinition) -> Pricing {
        Pricing(
            catalog: configuration.catalog, billing: configuration.billing[deployment] ?? .perToken(.global),
            deployedModel: configuration.models[deployment] ?? pipeline.model)
    }
}
