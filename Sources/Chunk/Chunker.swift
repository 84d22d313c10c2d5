import SluiceCore
import Tokenizer

/// One chunk of a document.
package struct TextChunk: Sendable, Hashable {
    /// The chunk's text, including the overlap taken from the previous chunk.
    package var text: String
    /// Its exact token count.
    package var tokens: Int
    /// UTF-8 offset in the document text where the chunk's own content (after the overlap) starts.
    package var offset: Int = 0
}

/// Cuts text into chunks of at most `maxTokens` tokens (exact, with the model's tokenizer), each
/// after the first starting with about `overlapTokens` tokens of the previous one.
///
/// Cuts prefer paragraph boundaries (blank lines), then sentence ends, then spaces between words;
/// only a single word longer than the budget is cut inside, at a character boundary.
package struct Chunker: Sendable {
    /// The model's tokenizer.
    package let encoding: BytePairEncoding
    /// The most tokens a chunk may have.
    package let maxTokens: Int
    /// Tokens of the previous chunk repeated at the start of the next.
    package let overlapTokens: Int

    /// - Parameters:
    ///   - maxTokens: At least 1.
    ///   - overlapTokens: At most half of `maxTokens`.
    package init(encoding: BytePairEncoding, maxTokens: Int, overlapTokens: Int) {
        self.encoding = encoding
        self.maxTokens = max(1, maxTokens)
        self.overlapTokens = max(0, min(overlapTokens, maxTokens / 2))
    }

    /// The chunks of a text, in order; empty for an empty text.
    package func chunks(_ text: String) -> [TextChunk] {
        guard !text.isEmpty else { return [] }
        // A text of at most `maxTokens` bytes has at most that many tokens.
        if text.utf8.count <= maxTokens { return [TextChunk(text: text, tokens: encoding.count(text))] }
        var segments: [Segment] = []
        var total = 0
        for paragraph in Self.paragraphs(text) {
            let before = segments.count
            appendFitting(paragraph, level: .paragraph, in: text, to: &segments)
            total += segments[before...].reduce(0) { $0 + $1.tokens }
        }
        if total <= maxTokens {
            let whole = encoding.count(text)
            if whole <= maxTokens { return [TextChunk(text: text, tokens: whole)] }
        }
        return pack(segments)
    }

    // MARK: Segmenting

    enum Level { case paragraph, sentence, word }

    struct Segment {
        var text: Substring
        var tokens: Int
        /// UTF-8 offset in the document text.
        var offset: Int
    }

    /// Adds a piece as one segment if it fits the budget, otherwise its finer pieces.
    private func appendFitting(_ piece: Substring, level: Level, in text: String, to segments: inout [Segment]) {
        let tokens = encoding.count(piece)
        let offset = text.utf8.distance(from: text.startIndex, to: piece.startIndex)
        if tokens <= maxTokens - overlapTokens {
            segments.append(Segment(text: piece, tokens: tokens, offset: offset))
            return
        }
        switch level {
        case .paragraph:
            for sentence in Self.split(piece, level: .sentence) {
                appendFitting(sentence, level: .sentence, in: text, to: &segments)
            }
        case .sentence:
            for word in Self.split(piece, level: .word) { appendFitting(word, level: .word, in: text, to: &segments) }
        case .word:
            segments.append(contentsOf: hardCut(piece, offset: offset))
        }
    }

    /// Cuts a piece by token count, at character boundaries (the piece is encoded once).
    private func hardCut(_ piece: Substring, offset: Int) -> [Segment] {
        let budget = max(1, maxTokens - overlapTokens)
        let utf8 = Array(piece.utf8)
        let ids = encoding.encode(String(piece))
        var result: [Segment] = []
        var byteStart = 0
        var tokenIndex = 0
        while tokenIndex < ids.count && byteStart < utf8.count {
            let tokenEnd = min(tokenIndex + budget, ids.count)
            var byteEnd = byteStart
            for id in ids[tokenIndex..<tokenEnd] { byteEnd += encoding.tokenBytes(id)?.count ?? 0 }
            byteEnd = min(byteEnd, utf8.count)
            var boundary = byteEnd
            while boundary < utf8.count && boundary > byteStart && utf8[boundary] & 0xC0 == 0x80 { boundary -= 1 }
            if boundary == byteStart {
                boundary = byteEnd
                while boundary < utf8.count && utf8[boundary] & 0xC0 == 0x80 { boundary += 1 }
            }
            let text = String(decoding: utf8[byteStart..<boundary], as: UTF8.self)
            result.append(Segment(text: Substring(text), tokens: encoding.count(text), offset: offset + byteStart))
            // Continue from the token that contains the boundary.
            var consumed = byteStart
            while tokenIndex < ids.count {
                let length = encoding.tokenBytes(ids[tokenIndex])?.count ?? 0
                if consumed + length > boundary { break }
                consumed += length
                tokenIndex += 1
            }
            byteStart = boundary
            if consumed < boundary {
                // The boundary fell inside a token: re-encode the rest from the boundary.
                let rest = String(decoding: utf8[boundary...], as: UTF8.self)
                return result + hardCut(Substring(rest), offset: offset + boundary)
            }
        }
        return result
    }

    /// Paragraphs: each ends after its blank line and the whitespace run around it (found on UTF-8 bytes;
    /// every cut is after an ASCII byte, so on a character boundary).
    static func paragraphs(_ text: String) -> [Substring] {
        var ends: [Int] = []
        var copy = text
        copy.withUTF8 { bytes in
            var index = 0
            while index < bytes.count {
                guard bytes[index] == 0x0A else {
                    index += 1
                    continue
                }
                var probe = index + 1
                var newlines = 1
                while probe < bytes.count,
                    bytes[probe] == 0x0A || bytes[probe] == 0x0D || bytes[probe] == 0x20 || bytes[probe] == 0x09
                {
                    if bytes[probe] == 0x0A { newlines += 1 }
                    probe += 1
                }
                if newlines >= 2 { ends.append(probe) }
                index = probe
            }
        }
        var parts: [Substring] = []
        parts.reserveCapacity(ends.count + 1)
        let utf8 = text.utf8
        var start = utf8.startIndex
        var previous = 0
        for end in ends where end > previous {
            let index = utf8.index(start, offsetBy: end - previous)
            parts.append(text[start..<index])
            start = index
            previous = end
        }
        if start < utf8.endIndex { parts.append(text[start...]) }
        return parts
    }

    /// Splits keeping every character: each part ends with its separator.
    static func split(_ text: Substring, level: Level) -> [Substring] {
        var parts: [Substring] = []
        var start = text.startIndex
        var index = text.startIndex
        let scalars = text.unicodeScalars
        func cut(at end: String.Index) {
            if end > start {
                parts.append(text[start..<end])
                start = end
            }
        }
        var position = scalars.startIndex
        while position < scalars.endIndex {
            let scalar = scalars[position]
            var next = scalars.index(after: position)
            switch level {
            case .paragraph:
                break  // paragraphs are cut on bytes by `paragraphs(_:)`
            case .sentence:
                if ".!?。！？".unicodeScalars.contains(scalar) {
                    var probe = next
                    while probe < scalars.endIndex, "\"')]»”’".unicodeScalars.contains(scalars[probe]) {
                        probe = scalars.index(after: probe)
                    }
                    if probe == scalars.endIndex || scalars[probe].properties.isWhitespace
                        || "。！？".unicodeScalars.contains(scalar)
                    {
                        while probe < scalars.endIndex, scalars[probe].properties.isWhitespace {
                            probe = scalars.index(after: probe)
                        }
                        next = probe
                        cut(at: next)
                    }
                } else if scalar == "\n" {
                    cut(at: next)
                }
            case .word:
                if scalar.properties.isWhitespace {
                    var probe = next
                    while probe < scalars.endIndex, scalars[probe].properties.isWhitespace {
                        probe = scalars.index(after: probe)
                    }
                    next = probe
                    cut(at: next)
                }
            }
            position = next
            index = next
        }
        cut(at: index)
        if start < text.endIndex { parts.append(text[start...]) }
        return parts
    }

    // MARK: Packing

    private func pack(_ segments: [Segment]) -> [TextChunk] {
        var chunks: [TextChunk] = []
        var index = 0
        var previous: String?
        while index < segments.count {
            var overlap = ""
            if let previous, overlapTokens > 0 {
                // Shrink the overlap when the next segment would not fit beside it (one token of slack for the seam).
                let room = maxTokens - segments[index].tokens - 1
                if room > 0 { overlap = tail(of: previous, tokens: min(overlapTokens, room)) }
            }
            var text = overlap
            var estimate = overlap.isEmpty ? 0 : encoding.count(overlap)
            var taken = 0
            while index + taken < segments.count, estimate + segments[index + taken].tokens <= maxTokens {
                text += segments[index + taken].text
                estimate += segments[index + taken].tokens
                taken += 1
            }
            if taken == 0 {
                text = String(segments[index].text)
                taken = 1
            } else if index + taken < segments.count {
                // The chunk is full: prefer to end it before a heading, if that keeps it at least half full.
                var filled = estimate
                for candidate in stride(from: index + taken - 1, to: index, by: -1) {
                    filled -= segments[candidate].tokens
                    guard filled * 2 >= maxTokens else { break }
                    if Self.isHeading(segments[candidate].text) {
                        taken = candidate - index
                        text = overlap + segments[index..<(index + taken)].map { String($0.text) }.joined()
                        break
                    }
                }
            }
            var tokens = encoding.count(text)
            // Token counts of joined pieces can exceed the sum of the parts at a seam: give back segments.
            while tokens > maxTokens && taken > 1 {
                taken -= 1
                text = overlap + segments[index..<(index + taken)].map { String($0.text) }.joined()
                tokens = encoding.count(text)
            }
            if tokens > maxTokens {
                text = String(segments[index].text)
                tokens = encoding.count(text)
            }
            chunks.append(TextChunk(text: text, tokens: tokens, offset: segments[index].offset))
            index += taken
            previous = text
        }
        return chunks
    }

    /// Whether a segment is a heading line (`#` to `######` and a space).
    static func isHeading(_ text: Substring) -> Bool {
        let hashes = text.prefix { $0 == "#" }.count
        return (1...6).contains(hashes) && text.dropFirst(hashes).first == " "
    }

    /// About the last `tokens` tokens of a text, starting at a word boundary when there is one.
    func tail(of text: String, tokens: Int) -> String {
        let ids = encoding.encode(text)
        guard ids.count > tokens, let bytes = try? encoding.decodeBytes(ids.suffix(tokens)) else { return "" }
        let utf8 = Array(text.utf8)
        var start = utf8.count - bytes.count
        // Move forward to a character boundary, then to the start of a word if one is near.
        while start < utf8.count, utf8[start] & 0xC0 == 0x80 { start += 1 }
        if let space = utf8[start...].firstIndex(where: { $0 == 0x20 || $0 == 0x0A }), space - start < bytes.count / 2 {
            start = space + 1
        }
        return String(decoding: utf8[start...], as: UTF8.self)
    }
}
