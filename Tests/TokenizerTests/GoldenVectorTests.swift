import Foundation
import Testing

@testable import Tokenizer

/// tiktoken 0.14's `encode_ordinary` output for 748 texts (edge cases, random Unicode, real text).
@Suite struct GoldenVectorTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let line: Int
        let text: String
        let o200k: [Int]
        let cl100k: [Int]
        var testDescription: String { "golden.jsonl:\(line) \(text.prefix(40).debugDescription)" }
    }

    static let cases: [Case] = {
        guard let objects = try? Fixture.jsonLines("golden.jsonl") else { return [] }
        return objects.enumerated().compactMap { index, object in
            guard let text = object["text"] as? String, let o200k = object["o200k_base"] as? [Int],
                let cl100k = object["cl100k_base"] as? [Int]
            else { return nil }
            return Case(line: index + 1, text: text, o200k: o200k, cl100k: cl100k)
        }
    }()

    @Test func fixtureIsComplete() {
        #expect(Self.cases.count == 748)
    }

    @Test func o200kMatchesTiktoken() {
        let encoding = BytePairEncoding.encoding(.o200kBase)
        for item in Self.cases {
            #expect(encoding.encode(item.text) == item.o200k, "\(item.testDescription)")
        }
    }

    @Test func cl100kMatchesTiktoken() {
        let encoding = BytePairEncoding.encoding(.cl100kBase)
        for item in Self.cases {
            #expect(encoding.encode(item.text) == item.cl100k, "\(item.testDescription)")
        }
    }

    @Test(arguments: EncodingName.allCases)
    func countAndRoundTrip(name: EncodingName) throws {
        let encoding = BytePairEncoding.encoding(name)
        for item in Self.cases {
            let ids = encoding.encode(item.text)
            #expect(encoding.count(item.text) == ids.count, "\(item.testDescription)")
            #expect(try encoding.decode(ids) == item.text, "\(item.testDescription)")
        }
    }
}
