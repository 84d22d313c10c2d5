import CCatalogData
import Foundation
import SluiceCore
import Yams

/// What one model is and what it costs (one entry of the catalog).
public struct ModelFacts: Sendable, Hashable, Codable {
    /// What one PTU buys on a provisioned deployment.
    public struct Provisioned: Sendable, Hashable, Codable {
        /// Input tokens per minute per PTU.
        public var tokensPerMinute: Int
        /// How many input tokens one output token counts as.
        public var outputWeight: Int
        /// The smallest deployment, and the step, in PTUs.
        public var minimum: Int
        /// The step above the minimum, in PTUs.
        public var increment: Int
    }

    /// The model's name as Azure lists it (e.g. gpt-4o-2024-08-06).
    public var name: String
    /// o200k_base, o200k_harmony or cl100k_base.
    public var tokenizer: String
    /// The model has its own vocabulary: token counts (and so costs) are estimates.
    public var approximate: Bool
    /// Tokens of prompt and reply together.
    public var contextWindow: Int
    /// The most completion tokens one reply may have.
    public var maxOutputTokens: Int
    /// A reasoning model (o-series, gpt-5): sends max_completion_tokens, bills reasoning tokens.
    public var reasoning: Bool
    /// Requests per minute granted per 1,000 TPM (standard deployments).
    public var requestsPerThousandTokens: Double
    /// Provisioned throughput facts, when the model can be deployed on PTUs.
    public var provisioned: Provisioned?
    /// List prices per deployment type.
    public var prices: [PriceTier: TokenPrices]
    /// model-router: its own price per million input tokens, on top of the serving model's.
    public var routerInputPrice: Double?
    /// model-router: the models it may send a call to.
    public var routes: [String]?

    /// The RPM Azure derives from a TPM for this model.
    public func requestsPerMinute(forTokensPerMinute tpm: Int) -> Int {
        max(1, Int((Double(tpm) / 1_000 * requestsPerThousandTokens).rounded(.down)))
    }

    /// How many input tokens one output token counts as on a provisioned deployment (4 when unpublished).
    public var outputTokenWeight: Int { provisioned?.outputWeight ?? 4 }
}

/// A deployment type, as Azure prices it.
public enum PriceTier: String, Sendable, Hashable, Codable, CaseIterable {
    case global
    case dataZone = "data_zone"
    /// Regional standard.
    case standard
    case batch
}

/// Prices in currency units per million tokens.
public struct TokenPrices: Sendable, Hashable, Codable {
    /// Prompt tokens.
    public var input: Double
    /// Cached prompt tokens; the input price when not published.
    public var cachedInput: Double?
    /// Completion tokens.
    public var output: Double

    /// Creates it from its fields.
    public init(input: Double, cachedInput: Double? = nil, output: Double) {
        self.input = input
        self.cachedInput = cachedInput
        self.output = output
    }
}

/// Sluice's model catalog: the dated facts in `models.yaml` (built in), with the user's overrides.
public struct ModelCatalog: Sendable, Hashable {
    /// The date the facts were checked.
    public var asOf: String
    /// The currency of every price (ISO 4217).
    public var currency: String
    /// Per PTU-hour by deployment type (global, data_zone, regional).
    public var provisionedHourly: [String: Double]
    /// Per PTU-month with a monthly reservation.
    public var provisionedMonthlyReserved: [String: Double]
    /// Facts by model name.
    public var models: [String: ModelFacts]

    /// The catalog built into the product.
    public static let builtIn: ModelCatalog = {
        var length = 0
        guard let bytes = sluice_model_catalog(&length) else { preconditionFailure("the model catalog is missing") }
        let text = String(decoding: UnsafeBufferPointer(start: bytes, count: length), as: UTF8.self)
        do {
            return try parse(text, file: "models.yaml (built in)")
        } catch {
            // The file is product data checked by the tests, not input.
            preconditionFailure("\(error)")
        }
    }()

    /// The facts for a model or a dated model version (`gpt-4o-2024-11-20`, `azure/o3-mini`): the
    /// longest catalog name that is the model's name or a prefix of it ending before `-`, `.` or `_`,
    /// ignoring case. Nil for a model the catalog does not know.
    public func facts(for model: String) -> ModelFacts? {
        var name = model.lowercased()
        for provider in ["azure/", "openai/"] where name.hasPrefix(provider) { name.removeFirst(provider.count) }
        var best: ModelFacts?
        for (key, facts) in models {
            let prefix = key.lowercased()
            guard name.hasPrefix(prefix) else { continue }
            if let next = name.dropFirst(prefix.count).first, !"-._:@".contains(next) { continue }
            if (best?.name.count ?? -1) < key.count { best = facts }
        }
        return best
    }

    // MARK: Reading

    /// Reads a catalog file.
    public static func parse(_ text: String, file: String) throws -> ModelCatalog {
        let node = try FieldReader.compose(text, file: file, code: .invalidConfiguration)
        guard let mapping = node?.mapping else {
            throw SluiceError(.invalidConfiguration, "\(file): expected a mapping with 'models'")
        }
        let reader = FieldReader(file: file, mapping: mapping, path: "", code: .invalidConfiguration)
        try reader.rejectUnknown(["as_of", "currency", "provisioned_hourly", "provisioned_monthly_reserved", "models"])
        var catalog = ModelCatalog(
            asOf: try reader.string("as_of", required: true) ?? "", currency: try reader.string("currency") ?? "USD",
            provisionedHourly: try Self.amounts(reader.mapping("provisioned_hourly")),
            provisionedMonthlyReserved: try Self.amounts(reader.mapping("provisioned_monthly_reserved")), models: [:])
        try catalog.apply(overrides: reader.mapping("models"), complete: true)
        return catalog
    }

    /// Applies a `models:` mapping (the catalog's own, or the overrides in a deployments file): each
    /// entry changes the fields it names of the model of that name, or adds a model.
    ///
    /// - Parameter complete: Every entry must give the fields a new model needs (the catalog itself).
    package mutating func apply(overrides reader: FieldReader?, complete: Bool = false) throws {
        guard let reader else { return }
        for key in reader.mapping.keys {
            guard let name = key.string, let entry = try reader.mapping(name) else {
                throw reader.error(key.string ?? "?", "must be a mapping of model facts")
            }
            try entry.rejectUnknown([
                "tokenizer", "approximate", "context", "max_output", "reasoning", "rpm_per_1k_tpm", "ptu", "prices",
                "router_input", "routes",
            ])
            // The model of that name, or (for a dated version such as gpt-4o-2024-11-20) the one it is a
            // version of, whose facts it starts from.
            let exact = complete ? nil : models.first { $0.key.lowercased() == name.lowercased() }?.value
            let existing = exact ?? (complete ? nil : facts(for: name))
            let tokenizer = try entry.string("tokenizer") ?? existing?.tokenizer ?? "o200k_base"
            guard ["o200k_base", "o200k_harmony", "cl100k_base"].contains(tokenizer) else {
                throw entry.error("tokenizer", "must be o200k_base, o200k_harmony or cl100k_base")
            }
            guard let context = try entry.int("context", minimum: 1) ?? existing?.contextWindow else {
                throw entry.error("context", "is required for a model the catalog does not know ('\(name)')")
            }
            var facts = ModelFacts(
                name: exact?.name ?? name, tokenizer: tokenizer,
                approximate: try entry.bool("approximate") ?? existing?.approximate ?? false, contextWindow: context,
                maxOutputTokens: try entry.int("max_output", minimum: 1) ?? existing?.maxOutputTokens ?? context,
                reasoning: try entry.bool("reasoning") ?? existing?.reasoning ?? false,
                requestsPerThousandTokens: try entry.double("rpm_per_1k_tpm") ?? existing?.requestsPerThousandTokens
                    ?? 6,
                provisioned: existing?.provisioned, prices: existing?.prices ?? [:],
                routerInputPrice: try entry.double("router_input") ?? existing?.routerInputPrice,
                routes: try entry.strings("routes") ?? existing?.routes)
            if let ptu = try entry.mapping("ptu") {
                try ptu.rejectUnknown(["tokens_per_minute", "output_weight", "minimum", "increment"])
                guard
                    let rate = try ptu.int("tokens_per_minute", minimum: 1)
                        ?? facts.provisioned?.tokensPerMinute
                else { throw ptu.error("tokens_per_minute", "is required") }
                facts.provisioned = .init(
                    tokensPerMinute: rate,
                    outputWeight: try ptu.int("output_weight", minimum: 1) ?? facts.provisioned?.outputWeight ?? 4,
                    minimum: try ptu.int("minimum", minimum: 1) ?? facts.provisioned?.minimum ?? 15,
                    increment: try ptu.int("increment", minimum: 1) ?? facts.provisioned?.increment ?? 5)
            }
            if let prices = try entry.mapping("prices") {
                try prices.rejectUnknown(Set(PriceTier.allCases.map(\.rawValue)))
                for tier in PriceTier.allCases {
                    guard let price = try prices.mapping(tier.rawValue) else { continue }
                    try price.rejectUnknown(["input", "cached_input", "output"])
                    let old = facts.prices[tier]
                    guard let input = try price.double("input") ?? old?.input else {
                        throw price.error("input", "is required (per million tokens)")
                    }
                    guard let output = try price.double("output") ?? old?.output else {
                        throw price.error("output", "is required (per million tokens)")
                    }
                    for value in [input, output] where value < 0 { throw price.error("input", "must not be negative") }
                    facts.prices[tier] = TokenPrices(
                        input: input, cachedInput: try price.double("cached_input") ?? old?.cachedInput, output: output)
                }
            }
            if let exact { models.removeValue(forKey: exact.name) }
            models[facts.name] = facts
        }
    }

    private static func amounts(_ reader: FieldReader?) throws -> [String: Double] {
        guard let reader else { return [:] }
        var result: [String: Double] = [:]
        for key in reader.mapping.keys {
            guard let name = key.string, let value = try reader.double(name), value >= 0 else {
                throw reader.error(key.string ?? "?", "must be an amount")
            }
            result[name] = value
        }
        return result
    }
}
