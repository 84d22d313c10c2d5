import Testing

@testable import Tokenizer

/// Long pieces (`"x" * 100_000`, `"_" * 50_000`, ...) must match tiktoken and merge in n·log n: a
/// quadratic merge of these takes minutes, far past the time limit.
@Suite(.timeLimit(.minutes(1)))
struct LongPieceTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let unit: String
        let repeatCount: Int
        let prefix: String
        let suffix: String
        let expected: [EncodingName: [Int]]
        var text: String { prefix + String(repeating: unit, count: repeatCount) + suffix }
        var testDescription: String {
            "\(prefix.debugDescription) + \(unit.debugDescription) × \(repeatCount) + \(suffix.debugDescription)"
        }
    }

    static let cases: [Case] = {
        guard let objects = try? Fixture.jsonLines("long_pieces.jsonl") else { return [] }
        return objects.compactMap { object in
            guard let unit = object["unit"] as? String, let count = object["repeat"] as? Int,
                let prefix = object["prefix"] as? String, let suffix = object["suffix"] as? String,
                let o200k = object["o200k_base"] as? [Int], let cl100k = object["cl100k_base"] as? [Int]
            else { return nil }
            return Case(
                unit: unit, repeatCount: count, prefix: prefix, suffix: suffix,
                expected: [.o200kBase: o200k, .cl100kBase: cl100k])
        }
    }()

    @Test func fixtureIsComplete() {
        #expect(Self.cases.count == 11)
    }

    @Test(arguments: cases)
    func matchesTiktoken(_ item: Case) throws {
        let text = item.text
        for (name, expected) in item.expected {
            let encoding = BytePairEncoding.encoding(name)
            let ids = encoding.encode(text)
            #expect(ids == expected, "\(name.rawValue)")
            #expect(encoding.count(text) == expected.count, "\(name.rawValue)")
            #expect(try encoding.decode(ids) == text, "\(name.rawValue)")
        }
    }

    /// The heap merge used for long pieces gives exactly what the flat merge gives.
    @Test func heapMergeEqualsFlatMerge() {
        var generator = SeededGenerator(seed: 42)
        let alphabets: [[UInt8]] = [Array("ab".utf8), Array("abcde ".utf8), Array("xyz_-".utf8), Array("0123".utf8)]
        for name in [EncodingName.o200kBase, .cl100kBase] {
            let vocabulary = BytePairEncoding.encoding(name).vocabulary
            for round in 0..<200 {
                let alphabet = alphabets[round % alphabets.count]
                let length = Int.random(in: 2...400, using: &generator)
                let piece = (0..<length).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] }
                piece.withUnsafeBufferPointer { buffer in
                    guard let base = buffer.baseAddress else { return }
                    var flat = TokenIDSink(reservingFor: length)
                    var heap = TokenIDSink(reservingFor: length)
                    vocabulary.mergeFlat(base, length, readable: length, into: &flat)
                    vocabulary.mergeWithHeap(base, length, into: &heap)
                    #expect(flat.ids == heap.ids, "\(name.rawValue): \(String(decoding: piece, as: UTF8.self))")
                }
            }
        }
    }
}
