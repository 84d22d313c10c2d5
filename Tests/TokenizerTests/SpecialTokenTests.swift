import Testing

@testable import Tokenizer

@Suite struct SpecialTokenTests {
    @Test func ordinaryByDefault() {
        let encoding = BytePairEncoding.encoding(.o200kBase)
        let ids = encoding.encode("<|endoftext|>")
        #expect(ids != [199_999])
        #expect(encoding.encode("<|endoftext|>", allowedSpecial: .none) == ids)
        #expect(encoding.count("<|endoftext|>") == ids.count)
    }

    @Test func allowedSpecialTokensBecomeControlTokens() throws {
        let encoding = BytePairEncoding.encoding(.cl100kBase)
        let text = "Hello<|endoftext|> world<|fim_prefix|>x"
        let all = encoding.encode(text, allowedSpecial: .all)
        #expect(
            all == encoding.encode("Hello") + [100_257] + encoding.encode(" world") + [100_258] + encoding.encode("x"))
        #expect(try encoding.decode(all) == text)
        let only = encoding.encode(text, allowedSpecial: .only(["<|fim_prefix|>"]))
        #expect(only == encoding.encode("Hello<|endoftext|> world") + [100_258] + encoding.encode("x"))
    }

    @Test func harmonyTokens() throws {
        let encoding = BytePairEncoding.encoding(.o200kHarmony)
        let ids = encoding.encode("<|start|>user<|message|>hi<|end|>", allowedSpecial: .all)
        #expect(ids.first == 200_006)
        #expect(ids.contains(200_008) && ids.last == 200_007)
        #expect(try encoding.decode([200_018]) == "<|endofprompt|>")
        #expect(encoding.vocabularySize == 201_088)
        // Ordinary text is the same as o200k_base.
        let sample = "Grüße, 世界! It's 2026."
        #expect(encoding.encode(sample) == BytePairEncoding.encoding(.o200kBase).encode(sample))
    }

    @Test func unknownEncodingNameIsAnError() throws {
        #expect(throws: TokenizerError.self) { try BytePairEncoding.encoding(named: "p50k_base") }
        #expect(try BytePairEncoding.encoding(named: "cl100k_base").name == .cl100kBase)
    }
}
