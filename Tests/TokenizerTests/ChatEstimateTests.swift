import Testing

@testable import Tokenizer

/// Chat requests with the estimate of OpenAI's cookbook function `num_tokens_from_messages`,
/// computed with tiktoken (Fixtures/chat_estimates.jsonl).
@Suite struct ChatEstimateTests {
    struct Case: Sendable {
        let model: String
        let encoding: String
        let messages: [ChatMessage]
        let promptTokens: Int
    }

    static let cases: [Case] = {
        guard let objects = try? Fixture.jsonLines("chat_estimates.jsonl") else { return [] }
        return objects.compactMap { object in
            guard let model = object["model"] as? String, let encoding = object["encoding"] as? String,
                let messages = object["messages"] as? [[String: String]], let tokens = object["prompt_tokens"] as? Int
            else { return nil }
            let parsed = messages.map {
                ChatMessage(role: $0["role"] ?? "", content: $0["content"] ?? "", name: $0["name"])
            }
            return Case(model: model, encoding: encoding, messages: parsed, promptTokens: tokens)
        }
    }()

    @Test func fixtureIsComplete() {
        #expect(Self.cases.count == 3)
    }

    @Test func matchesTheCookbookEstimate() {
        for item in Self.cases {
            let resolved = ModelEncoding.resolve(model: item.model)
            #expect(resolved.encoding.rawValue == item.encoding)
            let encoding = BytePairEncoding.encoding(resolved.encoding)
            let estimate = encoding.estimatePromptTokens(item.messages, format: .forModel(item.model))
            #expect(estimate == item.promptTokens, "\(item.model)")
        }
    }

    @Test func overheadIsPerMessageAndName() {
        let encoding = BytePairEncoding.encoding(.o200kBase)
        let one = [ChatMessage(role: "user", content: "hi")]
        let base = encoding.estimatePromptTokens(one)
        #expect(base == 3 + encoding.count("user") + encoding.count("hi") + 3)
        let named = [ChatMessage(role: "user", content: "hi", name: "ann")]
        #expect(encoding.estimatePromptTokens(named) == base + encoding.count("ann") + 1)
        let legacy = ChatFormat.forModel("gpt-35-turbo-0301")
        #expect(encoding.estimatePromptTokens(named, format: legacy) == base + 1 + encoding.count("ann") - 1)
    }
}
