import Testing

@testable import Tokenizer

@Suite struct ModelEncodingTests {
    @Test(arguments: [
        ("gpt-4o", EncodingName.o200kBase), ("gpt-4o-2024-08-06", .o200kBase), ("GPT-4o-mini", .o200kBase),
        ("chatgpt-4o-latest", .o200kBase), ("gpt-4.1", .o200kBase), ("gpt-4.1-nano-2025-04-14", .o200kBase),
        ("gpt-4.5-preview", .o200kBase), ("gpt-5", .o200kBase), ("gpt-5-chat", .o200kBase), ("gpt-5.1", .o200kBase),
        ("o1", .o200kBase), ("o1-mini", .o200kBase), ("o3-mini", .o200kBase), ("o4-mini", .o200kBase),
        ("model-router", .o200kBase), ("azure/gpt-4o", .o200kBase), ("gpt-oss-120b", .o200kHarmony),
        ("gpt-4", .cl100kBase), ("gpt-4-32k", .cl100kBase), ("gpt-4-turbo-2024-04-09", .cl100kBase),
        ("gpt-35-turbo", .cl100kBase), ("gpt-35-turbo-16k", .cl100kBase), ("gpt-3.5-turbo-0125", .cl100kBase),
        ("text-embedding-3-large", .cl100kBase), ("text-embedding-ada-002", .cl100kBase),
    ])
    func knownModels(model: String, expected: EncodingName) {
        let resolved = ModelEncoding.resolve(model: model)
        #expect(resolved.encoding == expected)
        #expect(resolved.isKnown)
        #expect(resolved.warning == nil)
    }

    @Test(arguments: ["gpt-40", "my-deployment", "o10", "Phi-4-mini-instruct", "Llama-3.3-70B-Instruct"])
    func unknownModelsFallBackWithWarning(model: String) throws {
        let resolved = ModelEncoding.resolve(model: model)
        #expect(resolved.encoding == .o200kBase)
        #expect(!resolved.isKnown)
        let warning = try #require(resolved.warning)
        #expect(warning.contains(model))
    }
}
