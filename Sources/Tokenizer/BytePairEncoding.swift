import CTokenizerData

/// An OpenAI byte-pair encoding: o200k_base, o200k_harmony or cl100k_base.
///
/// Encoding produces the same token ids as tiktoken 0.14 for every string. The vocabularies are
/// embedded in the binary; the first use of an encoding in a process builds its lookup table
/// (tens of milliseconds) and later uses share it. Instances are immutable and safe to use from
/// any number of threads at once.
///
/// ```swift
/// let encoding = BytePairEncoding.encoding(.o200kBase)
/// let ids = encoding.encode("hello world")      // [24912, 2375]
/// let count = encoding.count("hello world")     // 2
/// let text = try encoding.decode(ids)           // "hello world"
/// ```
public final class BytePairEncoding: Sendable {
    /// The encoding's name.
    public let name: EncodingName
    /// Special token text to id.
    public let specialTokens: [String: Int]
    /// One past the largest token id (mergeable or special).
    public let vocabularySize: Int

    let vocabulary: Vocabulary
    let pattern: Pattern
    let classes: ScalarClassTable
    private let specialTokenText: [Int: String]

    private init(name: EncodingName, vocabulary: Vocabulary) {
        self.name = name
        self.vocabulary = vocabulary
        self.pattern = name == .cl100kBase ? .cl100k : .o200k
        self.classes = .shared
        let specials = name.specialTokens
        self.specialTokens = specials
        // o200k_harmony names id 200018 twice; like tiktoken, decode it as `<|endofprompt|>`.
        self.specialTokenText = Dictionary(specials.lazy.map { ($0.value, $0.key) }) { first, second in
            first.hasPrefix("<|reserved_") ? second : first
        }
        self.vocabularySize = max(vocabulary.count, (specials.values.max() ?? 0) + 1)
    }

    private static let o200kVocabulary: Vocabulary = {
        var length = 0
        guard let data = sluice_o200k_base_data(&length) else { fatalError("o200k_base data is not embedded") }
        return Vocabulary(data: data, length: length)
    }()

    private static let cl100kVocabulary: Vocabulary = {
        var length = 0
        guard let data = sluice_cl100k_base_data(&length) else { fatalError("cl100k_base data is not embedded") }
        return Vocabulary(data: data, length: length)
    }()

    private static let o200kBase = BytePairEncoding(name: .o200kBase, vocabulary: o200kVocabulary)
    private static let o200kHarmony = BytePairEncoding(name: .o200kHarmony, vocabulary: o200kVocabulary)
    private static let cl100kBase = BytePairEncoding(name: .cl100kBase, vocabulary: cl100kVocabulary)

    /// The shared instance of an encoding, loaded on first use.
    public static func encoding(_ name: EncodingName) -> BytePairEncoding {
        switch name {
        case .o200kBase: o200kBase
        case .o200kHarmony: o200kHarmony
        case .cl100kBase: cl100kBase
        }
    }

    /// The shared instance of an encoding given by its tiktoken name.
    ///
    /// - Throws: ``TokenizerError/Code/unknownEncoding`` for a name Sluice does not ship.
    public static func encoding(named name: String) throws(TokenizerError) -> BytePairEncoding {
        guard let known = EncodingName(rawValue: name) else {
            let names = EncodingName.allCases.map(\.rawValue).joined(separator: ", ")
            throw TokenizerError(.unknownEncoding, "unknown encoding '\(name)'; known encodings: \(names)")
        }
        return encoding(known)
    }

    // MARK: Encoding

    /// Encodes text with every special token treated as ordinary text (tiktoken's `encode_ordinary`).
    public func encode(_ text: String) -> [Int] {
        var text = text
        return text.withUTF8 { encodeOrdinary($0) }
    }

    /// Encodes text, producing special token ids for the special tokens `policy` allows.
    ///
    /// Text that matches no allowed special token is encoded as ordinary text, so with
    /// ``SpecialTokenPolicy/none`` this equals ``encode(_:)``.
    public func encode(_ text: String, allowedSpecial policy: SpecialTokenPolicy) -> [Int] {
        let allowed: [String: Int]
        switch policy {
        case .none: return encode(text)
        case .all: allowed = specialTokens
        case .only(let names): allowed = specialTokens.filter { names.contains($0.key) }
        }
        if allowed.isEmpty { return encode(text) }
        let specials = allowed.map { (bytes: Array($0.key.utf8), id: $0.value) }
        var text = text
        return text.withUTF8 { buffer in
            var ids: [Int] = []
            var segmentStart = 0
            var position = 0
            while position + 1 < buffer.count {
                // Every special token starts with "<|".
                guard buffer[position] == 0x3C, buffer[position + 1] == 0x7C,
                    let special = specials.first(where: { Self.hasPrefix(buffer, at: position, $0.bytes) })
                else {
                    position += 1
                    continue
                }
                ids += encodeOrdinary(UnsafeBufferPointer(rebasing: buffer[segmentStart..<position]))
                ids.append(special.id)
                position += special.bytes.count
                segmentStart = position
            }
            ids += encodeOrdinary(UnsafeBufferPointer(rebasing: buffer[segmentStart...]))
            return ids
        }
    }

    /// The number of tokens in `text`, all of it ordinary text; equal to `encode(text).count`
    /// without storing the ids.
    public func count(_ text: String) -> Int { count(text[...]) }

    /// The number of tokens in a piece of text, all of it ordinary text.
    public func count(_ text: Substring) -> Int {
        var text = text
        return text.withUTF8 { buffer in
            var sink = TokenCountSink()
            encode(buffer, into: &sink)
            return sink.count
        }
    }

    /// Encodes valid UTF-8 bytes as ordinary text.

    func encodeOrdinary(_ buffer: UnsafeBufferPointer<UInt8>) -> [Int] {
        var sink = TokenIDSink(reservingFor: buffer.count)
        encode(buffer, into: &sink)
        return sink.ids
    }

    /// The encoding loop: cut valid UTF-8 into pieces, then merge each piece.

    func encode<Sink: TokenSink>(_ buffer: UnsafeBufferPointer<UInt8>, into sink: inout Sink) {
        guard let base = buffer.baseAddress, !buffer.isEmpty else { return }
        let scanner = ScalarScanner(base: base, count: buffer.count, table: classes)
        var start = 0
        let count = buffer.count
        switch pattern {
        case .o200k:
            while start < count {
                let end = scanner.o200kPieceEnd(from: start)
                vocabulary.encodePiece(base + start, end &- start, readable: count &- start, into: &sink)
                start = end
            }
        case .cl100k:
            while start < count {
                let end = scanner.cl100kPieceEnd(from: start)
                vocabulary.encodePiece(base + start, end &- start, readable: count &- start, into: &sink)
                start = end
            }
        }
    }

    private static func hasPrefix(_ buffer: UnsafeBufferPointer<UInt8>, at position: Int, _ prefix: [UInt8]) -> Bool {
        guard position + prefix.count <= buffer.count else { return false }
        for (offset, byte) in prefix.enumerated() where buffer[position + offset] != byte { return false }
        return true
    }

    // MARK: Decoding

    /// The bytes of a token sequence.
    ///
    /// - Throws: ``TokenizerError/Code/unknownToken`` for an id outside the encoding.
    public func decodeBytes(_ tokens: some Sequence<Int>) throws(TokenizerError) -> [UInt8] {
        var bytes: [UInt8] = []
        for token in tokens {
            if token >= 0 && token < vocabulary.count {
                bytes.append(contentsOf: vocabulary.tokenBytes(token))
            } else if let special = specialTokenText[token] {
                bytes.append(contentsOf: special.utf8)
            } else {
                throw TokenizerError(.unknownToken, "token id \(token) is not in \(name.rawValue)")
            }
        }
        return bytes
    }

    /// Decodes a token sequence to text; bytes that are not valid UTF-8 (a sequence cut inside a
    /// character) become U+FFFD, as with tiktoken's `errors="replace"`.
    ///
    /// - Throws: ``TokenizerError/Code/unknownToken`` for an id outside the encoding.
    public func decode(_ tokens: some Sequence<Int>) throws(TokenizerError) -> String {
        String(decoding: try decodeBytes(tokens), as: UTF8.self)
    }

    /// The bytes of a single token, or nil for an id outside the encoding.
    public func tokenBytes(_ token: Int) -> [UInt8]? {
        if token >= 0 && token < vocabulary.count { return Array(vocabulary.tokenBytes(token)) }
        return specialTokenText[token].map { Array($0.utf8) }
    }
}

extension BytePairEncoding {
    /// The mergeable tokens in tiktoken's file format (`base64(bytes) rank` per line, in rank order):
    /// byte for byte the `.tiktoken` file OpenAI publishes, for tools that want to load it.
    public func tiktokenFile() -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(vocabulary.count * 20)
        for rank in 0..<vocabulary.count {
            Base64.append(vocabulary.tokenBytes(rank), to: &output)
            output.append(0x20)
            output.append(contentsOf: String(rank).utf8)
            output.append(0x0A)
        }
        return output
    }
}

/// Standard base64 with padding.
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func append(_ bytes: UnsafeBufferPointer<UInt8>, to output: inout [UInt8]) {
        var index = 0
        while index + 3 <= bytes.count {
            let value = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            for shift in [18, 12, 6, 0] { output.append(alphabet[Int(value >> UInt32(shift) & 63)]) }
            index += 3
        }
        let rest = bytes.count - index
        if rest > 0 {
            let second = rest == 2 ? UInt32(bytes[index + 1]) : 0
            let value = UInt32(bytes[index]) << 16 | second << 8
            output.append(alphabet[Int(value >> 18 & 63)])
            output.append(alphabet[Int(value >> 12 & 63)])
            output.append(rest == 2 ? alphabet[Int(value >> 6 & 63)] : 0x3D)
            output.append(0x3D)
        }
    }
}
