import Crypto
import Foundation
import Testing

@testable import Tokenizer

/// The embedded compact vocabularies are lossless: rebuilt in tiktoken's format they are byte for
/// byte the files OpenAI publishes (their SHA-256 is what tiktoken verifies).
@Suite struct VocabularyTests {
    @Test(arguments: [
        (EncodingName.o200kBase, "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d", 199_998),
        (.cl100kBase, "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7", 100_256),
    ])
    func rebuildsThePublishedFile(name: EncodingName, sha256: String, tokens: Int) {
        let encoding = BytePairEncoding.encoding(name)
        #expect(encoding.vocabulary.count == tokens)
        let digest = SHA256.hash(data: encoding.tiktokenFile())
        #expect(digest.map { String(format: "%02x", $0) }.joined() == sha256)
    }

    @Test func everyTokenIsFoundByItsBytes() {
        for name in [EncodingName.o200kBase, .cl100kBase] {
            let vocabulary = BytePairEncoding.encoding(name).vocabulary
            var misses = 0
            for rank in 0..<vocabulary.count {
                let bytes = Array(vocabulary.tokenBytes(rank))
                let found = bytes.withUnsafeBufferPointer { buffer in
                    vocabulary.rank(buffer.baseAddress!, buffer.count, readable: buffer.count)
                }
                if found != UInt32(rank) { misses += 1 }
            }
            #expect(misses == 0, "\(name.rawValue)")
        }
    }

    @Test func bytesThatAreNoTokenAreNotFound() {
        let vocabulary = BytePairEncoding.encoding(.cl100kBase).vocabulary
        let absent: [[UInt8]] = [Array("qzxqzxqzxqzx".utf8), [0xFF, 0xFE, 0xFD], Array(repeating: 0x41, count: 200)]
        for bytes in absent {
            let found = bytes.withUnsafeBufferPointer { buffer in
                vocabulary.rank(buffer.baseAddress!, buffer.count, readable: buffer.count)
            }
            #expect(found == UInt32.max)
        }
    }
}
