/// The pre-tokenizer patterns of OpenAI's encodings, written out as scanners over UTF-8 bytes.
///
/// Each function returns where the piece that starts at `start` ends, exactly as tiktoken's regular
/// expression (leftmost-first alternation with backtracking) would cut it. The text must be valid
/// UTF-8, which every Swift `String` is.

enum Pattern: Sendable {
    /// `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?`
    /// `|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?`
    /// `|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    case o200k
    /// `'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s`
    case cl100k
}

/// A view of valid UTF-8 text that classifies the scalar at a byte offset.

struct ScalarScanner {
    let base: UnsafePointer<UInt8>
    let end: Int
    let table: ScalarClassTable

    init(base: UnsafePointer<UInt8>, count: Int, table: ScalarClassTable) {
        self.base = base
        self.end = count
        self.table = table
    }

    /// The class bits of the scalar at `offset` and its length in bytes.
    @inline(__always)
    func scalar(at offset: Int) -> (bits: UInt8, length: Int) {
        let lead = base[offset]
        if lead < 0x80 { return (table.stage2[Int(lead)], 1) }
        if lead < 0xE0 {
            let value = UInt32(lead & 0x1F) &<< 6 | UInt32(base[offset &+ 1] & 0x3F)
            return (table.classBits(value), 2)
        }
        if lead < 0xF0 {
            let value =
                UInt32(lead & 0x0F) &<< 12 | UInt32(base[offset &+ 1] & 0x3F) &<< 6
                | UInt32(base[offset &+ 2] & 0x3F)
            return (table.classBits(value), 3)
        }
        let value =
            UInt32(lead & 0x07) &<< 18 | UInt32(base[offset &+ 1] & 0x3F) &<< 12
            | UInt32(base[offset &+ 2] & 0x3F) &<< 6 | UInt32(base[offset &+ 3] & 0x3F)
        return (table.classBits(value), 4)
    }

    @inline(__always)
    func bits(at offset: Int) -> UInt8 { offset < end ? scalar(at: offset).bits : 0 }

    // MARK: Shared pieces

    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)`, and for cl100k the same set in another order: the end of a
    /// contraction at `offset`, or nil. Case-insensitive matching folds `ſ` (U+017F) to `s`.
    @inline(__always)
    func contractionEnd(at offset: Int) -> Int? {
        guard offset &+ 1 < end, base[offset] == 0x27 else { return nil }
        let first = base[offset &+ 1] | 0x20
        switch first {
        case 0x73, 0x74, 0x6D, 0x64:  // s t m d
            return offset &+ 2
        case 0x72, 0x76, 0x6C:  // r(e) v(e) l(l)
            guard offset &+ 2 < end else { return nil }
            let second = base[offset &+ 2] | 0x20
            let wanted: UInt8 = first == 0x6C ? 0x6C : 0x65
            return second == wanted ? offset &+ 3 : nil
        default:
            // U+017F LATIN SMALL LETTER LONG S (C5 BF) case-folds to 's'.
            if base[offset &+ 1] == 0xC5 && offset &+ 2 < end && base[offset &+ 2] == 0xBF { return offset &+ 3 }
            return nil
        }
    }

    /// Consumes scalars while their bits intersect `wanted`; returns the end offset.
    @inline(__always)
    func run(from offset: Int, while wanted: UInt8) -> Int {
        var position = offset
        while position < end {
            let (bits, length) = scalar(at: position)
            if bits & wanted == 0 { break }
            position &+= length
        }
        return position
    }

    /// Up to three `\p{N}` scalars.
    @inline(__always)
    func numberEnd(from offset: Int) -> Int {
        var position = offset
        var taken = 0
        while taken < 3 && position < end {
            let (bits, length) = scalar(at: position)
            if bits & ScalarClass.number.rawValue == 0 { break }
            position &+= length
            taken &+= 1
        }
        return position
    }

    /// ` ?[^\s\p{L}\p{N}]+` followed by a run of the `tail` bytes (`\r`, `\n` and, for o200k, `/`);
    /// nil when the alternative does not match at `offset`.
    @inline(__always)
    func punctuationEnd(at offset: Int, slash: Bool) -> Int? {
        let notPunctuation = ScalarClass.space.rawValue | ScalarClass.letter.rawValue | ScalarClass.number.rawValue
        var position = offset
        if base[position] == 0x20 { position &+= 1 }
        if position >= end || scalar(at: position).bits & notPunctuation != 0 { return nil }
        position = run(from: position, whileNot: notPunctuation)
        while position < end {
            let byte = base[position]
            guard byte == 0x0A || byte == 0x0D || (slash && byte == 0x2F) else { break }
            position &+= 1
        }
        return position
    }

    /// Consumes scalars while their bits do not intersect `unwanted`.
    @inline(__always)
    func run(from offset: Int, whileNot unwanted: UInt8) -> Int {
        var position = offset
        while position < end {
            let (bits, length) = scalar(at: position)
            if bits & unwanted != 0 { break }
            position &+= length
        }
        return position
    }

    /// The whitespace alternatives shared by both patterns, starting at a `\s` scalar:
    /// `\s*[\r\n]+` (o200k) or `\s*[\r\n]` (cl100k) ending after the run's last newline, then
    /// `\s+(?!\S)` giving back the last scalar before a non-space, then a single `\s` / `\s+`.
    /// - Parameter wholeRunAtEnd: cl100k's `\s++$`, tried first.
    @inline(__always)
    func whitespaceEnd(at offset: Int, wholeRunAtEnd: Bool) -> Int {
        var position = offset
        var lastNewlineEnd = -1
        var lastScalarStart = offset
        var scalars = 0
        while position < end {
            let (bits, length) = scalar(at: position)
            if bits & ScalarClass.space.rawValue == 0 { break }
            if bits & ScalarClass.newline.rawValue != 0 { lastNewlineEnd = position &+ length }
            lastScalarStart = position
            scalars &+= 1
            position &+= length
        }
        if wholeRunAtEnd && position == end { return position }
        if lastNewlineEnd >= 0 { return lastNewlineEnd }
        if position == end || scalars == 1 { return position }
        return lastScalarStart
    }
}
