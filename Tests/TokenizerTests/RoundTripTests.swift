import Testing

@testable import Tokenizer

/// Property tests: for random Unicode text, decoding the encoding gives the text back, counting
/// equals encoding, and pieces never cut a token between two encodings of the same text.
@Suite struct RoundTripTests {
    /// Scalar ranges to draw from: ASCII, Latin with marks, Greek, Cyrillic, Hebrew and Arabic (RTL),
    /// Devanagari, CJK, Hangul, emoji with ZWJ and variation selectors, Unicode whitespace, private use,
    /// astral letters and digits, and the long s.
    static let ranges: [ClosedRange<UInt32>] = [
        0x20...0x7E, 0x09...0x0D, 0xA0...0x17F, 0x300...0x36F, 0x370...0x3FF, 0x400...0x4FF, 0x590...0x5FF,
        0x600...0x6FF, 0x900...0x97F, 0x2000...0x206F, 0x3000...0x303F, 0x4E00...0x4FFF, 0xAC00...0xAD00,
        0x1F300...0x1F64F, 0x1F900...0x1F9FF, 0xFE00...0xFE0F, 0x200D...0x200D, 0xE000...0xE0FF,
        0x10400...0x1044F, 0x1D7CE...0x1D7FF, 0x17F...0x17F, 0x27...0x27, 0x11F00...0x11F5F,
    ]

    static func randomText(length: Int, using generator: inout SeededGenerator) -> String {
        var scalars = String.UnicodeScalarView()
        for _ in 0..<length {
            let range = ranges[Int.random(in: 0..<ranges.count, using: &generator)]
            if let scalar = Unicode.Scalar(UInt32.random(in: range, using: &generator)) { scalars.append(scalar) }
        }
        return String(scalars)
    }

    @Test(arguments: EncodingName.allCases)
    func randomUnicodeRoundTrips(name: EncodingName) throws {
        let encoding = BytePairEncoding.encoding(name)
        var generator = SeededGenerator(seed: 0x5EED + UInt64(name.rawValue.count))
        for _ in 0..<2_000 {
            let text = Self.randomText(length: Int.random(in: 0...80, using: &generator), using: &generator)
            let ids = encoding.encode(text)
            #expect(try encoding.decode(ids) == text, "\(text.debugDescription)")
            #expect(encoding.count(text) == ids.count)
            #expect(ids.allSatisfy { $0 >= 0 && $0 < encoding.vocabularySize })
        }
    }

    /// Special-token text inside documents is ordinary text and round-trips.
    @Test(arguments: EncodingName.allCases)
    func specialLookingTextRoundTrips(name: EncodingName) throws {
        let encoding = BytePairEncoding.encoding(name)
        let specialIDs = Set(encoding.specialTokens.values)
        for special in encoding.specialTokens.keys.sorted().prefix(20) {
            let text = "before \(special) after<|\(special)"
            let ids = encoding.encode(text)
            #expect(ids.allSatisfy { !specialIDs.contains($0) })
            #expect(try encoding.decode(ids) == text)
        }
    }

    /// Decoding a prefix of the ids can end inside a character; decode replaces it with U+FFFD
    /// and decodeBytes keeps the exact bytes.
    @Test func partialCharactersDecodeWithReplacement() throws {
        let encoding = BytePairEncoding.encoding(.o200kBase)
        let text = "🦜🦜🦜"
        let ids = encoding.encode(text)
        let bytes = try encoding.decodeBytes(ids)
        #expect(bytes == Array(text.utf8))
        let cut = try #require(
            ids.indices.first { index in
                let prefix = (try? encoding.decodeBytes(ids[...index])) ?? []
                return String(validating: prefix, as: UTF8.self) == nil
            })
        #expect(try encoding.decode(ids[...cut]).contains("\u{FFFD}"))
    }

    @Test func unknownIDsAreErrors() {
        let encoding = BytePairEncoding.encoding(.cl100kBase)
        #expect(throws: TokenizerError.self) { try encoding.decode([100_256]) }
        #expect(throws: TokenizerError.self) { try encoding.decode([-1]) }
        #expect(encoding.tokenBytes(100_257) == Array("<|endoftext|>".utf8))
    }
}
