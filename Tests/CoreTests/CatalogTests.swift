import Catalog
import Foundation
import Pipeline
import Scheduler
import SluiceCore
import Testing
import Tokenizer

@Suite struct CatalogTests {
    let catalog = ModelCatalog.builtIn

    @Test func theBuiltInCatalogIsDatedAndCoversTheModelsUsersDeploy() throws {
        #expect(catalog.asOf.count == 10 && catalog.asOf.hasPrefix("20") && catalog.currency == "USD")
        for model in [
            "gpt-35-turbo", "gpt-4", "gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "gpt-4.5",
            "gpt-5", "gpt-5-mini", "gpt-5-nano", "gpt-5-chat", "o1", "o3", "o3-mini", "o4-mini", "gpt-oss-20b",
            "gpt-oss-120b", "model-router", "Phi-4", "Llama-3.3-70B-Instruct", "Mistral-Large-2411", "DeepSeek-R1",
        ] {
            let facts = try #require(catalog.facts(for: model), "\(model)")
            #expect(facts.name == model)
            #expect(facts.contextWindow > facts.maxOutputTokens / 2 && facts.maxOutputTokens > 0)
            #expect(facts.requestsPerThousandTokens > 0)
        }
        // Every model the catalog counts exactly uses the tokenizer Sluice counts it with.
        for facts in catalog.models.values where !facts.approximate {
            let resolved = ModelEncoding.resolve(model: facts.name)
            #expect(resolved.isKnown && resolved.encoding.rawValue == facts.tokenizer, "\(facts.name)")
        }
        for reasoning in ["o1", "o3", "o3-mini", "o4-mini", "gpt-5", "gpt-5-mini", "gpt-5-nano"] {
            #expect(catalog.facts(for: reasoning)?.reasoning == true, "\(reasoning)")
        }
        for chat in ["gpt-4o", "gpt-4.1", "gpt-5-chat", "gpt-35-turbo"] {
            #expect(catalog.facts(for: chat)?.reasoning == false, "\(chat)")
        }
    }

    @Test func datedVersionsAndProvidersFindTheirModel() throws {
        #expect(catalog.facts(for: "gpt-4o-mini-2024-07-18")?.name == "gpt-4o-mini")
        #expect(catalog.facts(for: "gpt-4o-2024-11-20")?.name == "gpt-4o")
        #expect(catalog.facts(for: "azure/o3-mini")?.name == "o3-mini")
        #expect(catalog.facts(for: "gpt-5-chat-2025-08-07")?.name == "gpt-5-chat")
        #expect(catalog.facts(for: "gpt-4.1-nano-2025-04-14")?.name == "gpt-4.1-nano")
        #expect(catalog.facts(for: "gpt-40") == nil)
        #expect(catalog.facts(for: "my-deployment") == nil)
    }

    @Test func costsFollowUsageAndTheServingModel() throws {
        let mini = try #require(catalog.facts(for: "gpt-4o-mini")?.prices[.global])
        let usage = Usage(
            promptTokens: 10_000, completionTokens: 2_000, totalTokens: 12_000, cachedTokens: 4_000,
            reasoningTokens: 0)
        let cost = try #require(
            catalog.cost(of: usage, servedModel: "gpt-4o-mini-2024-07-18", deployedModel: "gpt-4o-mini", tier: .global))
        let cachedPrice = try #require(mini.cachedInput)
        #expect(abs(cost.input - 6_000 * mini.input / 1e6) < 1e-12)
        #expect(abs(cost.cachedInput - 4_000 * cachedPrice / 1e6) < 1e-12)
        #expect(abs(cost.output - 2_000 * mini.output / 1e6) < 1e-12)
        #expect(cachedPrice < mini.input)
        // Regional standard costs more than global; batch less.
        let regional = try #require(
            catalog.cost(of: usage, servedModel: nil, deployedModel: "gpt-4o-mini", tier: .standard))
        let batch = try #require(catalog.cost(of: usage, servedModel: nil, deployedModel: "gpt-4o-mini", tier: .batch))
        #expect(regional.total > cost.total && batch.total < cost.total)
        // The model router: the chosen model's prices plus the router's input price.
        let router = try #require(catalog.facts(for: "model-router"))
        let nano = try #require(catalog.facts(for: "gpt-4.1-nano")?.prices[.global])
        let routed = try #require(
            catalog.cost(
                of: usage, servedModel: "gpt-4.1-nano-2025-04-14", deployedModel: "model-router", tier: .global))
        #expect(routed.pricedModel == "gpt-4.1-nano")
        let expectedInput = 6_000 * nano.input / 1e6 + 10_000 * (router.routerInputPrice ?? -1) / 1e6
        #expect(abs(routed.input - expectedInput) < 1e-12)
        // Its worst case is its dearest model's.
        let most = try #require(
            catalog.maximumCost(promptTokens: 1_000, maxTokens: 1_000, deployedModel: "model-router", tier: .global))
        #expect(most > routed.total / 12 && most >= (1_000 * 2.0 + 1_000 * 8.0) / 1e6)
        // No list price: no cost, rather than a wrong one.
        #expect(catalog.cost(of: usage, servedModel: nil, deployedModel: "gpt-oss-20b", tier: .global) == nil)
        #expect(catalog.cost(of: usage, servedModel: nil, deployedModel: "gpt-4.5", tier: .dataZone) == nil)
    }

    @Test func theDeploymentsFileOverridesAndAddsModelFacts() throws {
        let file = try DeploymentsFile.parse(
            """
            models:
              gpt-4o-2024-11-20: {prices: {global: {output: 9}}}
              gpt-4o-mini:
                context: 64000
                prices: {global: {input: 1.5}}
              my-finetune:
                tokenizer: o200k_base
                context: 32000
                max_output: 4000
                rpm_per_1k_tpm: 2
                prices: {global: {input: 3, output: 12}}
            deployments:
              ft:
                endpoint: https://example.openai.azure.com
                model: my-finetune
                tpm: 10000
                sku: global
              dated:
                endpoint: https://example.openai.azure.com
                model: gpt-4o-2024-11-20
              mini-dz:
                endpoint: https://example.openai.azure.com
                model: gpt-4o-mini
                sku: data_zone
            """, file: "d.yaml")
        let mini = try #require(file.catalog.facts(for: "gpt-4o-mini"))
        #expect(mini.contextWindow == 64_000 && mini.prices[.global]?.input == 1.5)
        #expect(mini.prices[.global]?.output == catalog.facts(for: "gpt-4o-mini")?.prices[.global]?.output)
        #expect(file.catalog.facts(for: "my-finetune")?.maxOutputTokens == 4_000)
        // A dated version starts from its model's facts; the model itself is unchanged.
        let dated = try #require(file.catalog.facts(for: "gpt-4o-2024-11-20"))
        let base = try #require(catalog.facts(for: "gpt-4o"))
        #expect(dated.prices[.global]?.output == 9 && dated.prices[.global]?.input == base.prices[.global]?.input)
        #expect(dated.contextWindow == base.contextWindow && file.catalog.facts(for: "gpt-4o") == base)
        // The added model's RPM ratio derives the deployment's RPM.
        #expect(file.entries["ft"]?.quota.kind == .standard(tokensPerMinute: 10_000, requestsPerMinute: 20))
        #expect(file.entries["mini-dz"]?.billing == .perToken(.dataZone))
        #expect(ModelCatalog.builtIn.facts(for: "gpt-4o-mini")?.contextWindow == 128_000)

        for (yaml, fragment) in [
            ("models:\n  new-model: {tokenizer: o200k_base}\ndeployments: {a: {endpoint: x}}", "context"),
            (
                "models:\n  gpt-4o: {prices: {premium: {input: 1, output: 2}}}\ndeployments: {a: {endpoint: x}}",
                "premium"
            ),
            ("models:\n  gpt-4o: {tokenizer: p50k}\ndeployments: {a: {endpoint: x}}", "tokenizer"),
            ("deployments:\n  a: {endpoint: x, sku: regional}", "sku"),
            ("deployments:\n  a: {endpoint: x, kind: provisioned, sku: batch}", "sku"),
        ] {
            #expect {
                _ = try DeploymentsFile.parse(yaml, file: "bad.yaml")
            } throws: { error in
                let message = (error as? SluiceError)?.message ?? ""
                return message.contains("bad.yaml") && message.contains(fragment)
            }
        }
    }
}
