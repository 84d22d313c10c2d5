import Scheduler
import SluiceCore

/// What a call cost, at list price.
public struct CallCost: Sendable, Hashable, Codable {
    /// Currency units.
    public var input: Double
    /// Cached prompt tokens' share.
    public var cachedInput: Double
    /// Completion (and reasoning) tokens' share.
    public var output: Double
    /// The model whose prices were applied (the one that served the call).
    public var pricedModel: String
    /// The price tier that applied.
    public var tier: PriceTier

    /// Input, cached input and output together.
    public var total: Double { input + cachedInput + output }

    /// Creates it from its fields.
    public init(input: Double, cachedInput: Double, output: Double, pricedModel: String, tier: PriceTier) {
        self.input = input
        self.cachedInput = cachedInput
        self.output = output
        self.pricedModel = pricedModel
        self.tier = tier
    }
}

/// How a deployment is billed.
public enum Billing: Sendable, Hashable {
    /// Per token at the list price of a deployment type.
    case perToken(PriceTier)
    /// Per PTU-hour (global, data_zone or regional), whatever the traffic: a call costs nothing more.
    case provisioned(ptu: Int?, type: String)
}

extension ModelCatalog {
    /// The list-price cost of a call's usage.
    ///
    /// - Parameters:
    ///   - servedModel: The `model` of the reply, which names the model that served the call (a model
    ///     router's choice); its prices apply. When the catalog does not know it, the deployment's model's do.
    ///   - deployedModel: The model of the deployment (`model-router` adds the router's input price).
    /// - Returns: Nil when neither model has a price for the tier.
    public func cost(of usage: Usage, servedModel: String?, deployedModel: String, tier: PriceTier) -> CallCost? {
        let deployed = facts(for: deployedModel)
        let served = servedModel.flatMap { facts(for: $0) }
        guard let facts = [served, deployed].compactMap({ $0 }).first(where: { $0.prices[tier] != nil }),
            let prices = facts.prices[tier]
        else { return nil }
        let cached = min(usage.cachedTokens ?? 0, usage.promptTokens)
        var input = Double(usage.promptTokens - cached) * prices.input / 1_000_000
        if let router = deployed?.routerInputPrice, deployed?.name != facts.name {
            input += Double(usage.promptTokens) * router / 1_000_000
        }
        return CallCost(
            input: input, cachedInput: Double(cached) * (prices.cachedInput ?? prices.input) / 1_000_000,
            output: Double(usage.completionTokens) * prices.output / 1_000_000, pricedModel: facts.name, tier: tier)
    }

    /// The most a call can cost: every prompt token uncached and `maxTokens` of output, at the
    /// dearest price a reply of this deployment may be billed at (a router's dearest model).
    public func maximumCost(promptTokens: Int, maxTokens: Int, deployedModel: String, tier: PriceTier) -> Double? {
        let usage = Usage(
            promptTokens: promptTokens, completionTokens: maxTokens, totalTokens: promptTokens + maxTokens)
        if let router = facts(for: deployedModel), router.routerInputPrice != nil {
            // The router may pick any of its models: bound by the dearest.
            return (router.routes ?? []).compactMap {
                cost(of: usage, servedModel: $0, deployedModel: deployedModel, tier: tier)?.total
            }.max()
        }
        return cost(of: usage, servedModel: nil, deployedModel: deployedModel, tier: tier)?.total
    }

    /// The hourly price of `ptu` PTUs of a provisioned deployment type.
    public func provisionedHourlyCost(ptu: Int, type: String) -> Double? {
        provisionedHourly[type].map { Double(ptu) * $0 }
    }
}

extension Billing {
    /// The billing of a deployment kind and SKU name (nil: global).
    ///
    /// - Throws: ``SluiceError`` when the SKU is not one of the kind's (message only: callers add the place).
    public init(kind: DeploymentQuota.Kind, sku: String?, batch: Bool = false) throws {
        if batch {
            guard sku == nil || sku == "batch" else {
                throw SluiceError(.invalidConfiguration, "must be batch for a batch deployment")
            }
            self = .perToken(.batch)
            return
        }
        switch kind {
        case .provisioned(let ptu, _):
            let type = sku ?? "global"
            guard ["global", "data_zone", "regional"].contains(type) else {
                throw SluiceError(
                    .invalidConfiguration, "must be global, data_zone or regional for a provisioned deployment")
            }
            self = .provisioned(ptu: ptu, type: type)
        case .standard:
            guard let tier = PriceTier(rawValue: sku ?? "global") else {
                throw SluiceError(.invalidConfiguration, "must be global, data_zone, standard or batch")
            }
            self = .perToken(tier)
        }
    }
}
