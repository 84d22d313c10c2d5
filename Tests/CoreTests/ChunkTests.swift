import Chunk
import SluiceTesting
import Testing
import Tokenizer

@Suite struct ChunkTests {
    let encoding = BytePairEncoding.encoding(.o200kBase)

    @Test(arguments: [(120, 0), (120, 20), (300, 40), (1_000, 100)])
    func chunksRespectTheBudgetAndCoverTheText(maxTokens: Int, overlap: Int) {
        let text = DocumentFactory.document(seed: maxTokens, paragraphs: 12, wordsPerParagraph: 80)
        let chunks = Chunker(encoding: encoding, maxTokens: maxTokens, overlapTokens: overlap).chunks(text)
        #expect(chunks.count > 1)
        for chunk in chunks {
            #expect(chunk.tokens <= maxTokens)
            #expect(chunk.tokens == encoding.count(chunk.text))
        }
        if overlap == 0 {
            #expect(chunks.map(\.text).joined() == text)
        } else {
            // Each chunk after the first starts with text from the end of the previous one.
            for (previous, chunk) in zip(chunks, chunks.dropFirst()) {
                let head = String(chunk.text.prefix(20))
                #expect(previous.text.contains(head), "\(head)")
            }
        }
    }

    @Test func cutsPreferParagraphsThenSentences() {
        let paragraph = String(repeating: "Alpha beta gamma delta. ", count: 10)
        let text = (0..<6).map { _ in paragraph }.joined(separator: "\n\n")
        let chunks = Chunker(encoding: encoding, maxTokens: 130, overlapTokens: 0).chunks(text)
        for chunk in chunks.dropLast() {
            #expect(
                chunk.text.hasSuffix("\n\n") || chunk.text.hasSuffix(". "), "\(chunk.text.suffix(10).debugDescription)")
        }
        let sentences = Chunker(encoding: encoding, maxTokens: 30, overlapTokens: 0).chunks(paragraph)
        for chunk in sentences.dropLast() { #expect(chunk.text.hasSuffix(". ")) }
    }

    @Test func aWordLongerThanTheBudgetIsCutAtCharacterBoundaries() {
        let text = String(repeating: "日本語のテキスト", count: 300) + " end"
        let chunks = Chunker(encoding: encoding, maxTokens: 50, overlapTokens: 0).chunks(text)
        #expect(chunks.count > 10)
        #expect(chunks.map(\.text).joined() == text)
        #expect(chunks.allSatisfy { $0.tokens <= 50 })
    }

    @Test func shortAndEmptyTexts() {
        let chunker = Chunker(encoding: encoding, maxTokens: 100, overlapTokens: 10)
        #expect(chunker.chunks("").isEmpty)
        #expect(chunker.chunks("One line.").map(\.text) == ["One line."])
    }
}

@Suite struct HeadingCutTests {
    @Test func fullChunksEndBeforeAHeading() {
        let encoding = BytePairEncoding.encoding(.o200kBase)
        let section = (0..<4).map { "Sentence \($0) of the section, with a few words to count." }.joined(separator: " ")
        let text = (1...6).map { "## Part \($0)\n\n\(section)" }.joined(separator: "\n\n")
        let chunks = Chunker(encoding: encoding, maxTokens: 120, overlapTokens: 0).chunks(text)
        #expect(chunks.count > 2)
        #expect(chunks.allSatisfy { $0.text.hasPrefix("## Part") })
        #expect(chunks.map(\.text).joined() == text)
    }
}
