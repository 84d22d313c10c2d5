extension ScalarScanner {
    /// The end of the o200k_base piece that starts at `start` (`start < end`).
    @inline(__always)
    func o200kPieceEnd(from start: Int) -> Int {
        let letterOrMark = ScalarClass.upperish.rawValue | ScalarClass.lowerish.rawValue
        let (first, firstLength) = scalar(at: start)
        if first & ScalarClass.letter.rawValue != 0 {
            // A letter cannot be the optional prefix.
            if let end = o200kLowerWordEnd(from: start) { return end }
            return o200kUpperWordEnd(from: start)
        }
        let notPrefix = ScalarClass.letter.rawValue | ScalarClass.number.rawValue | ScalarClass.newline.rawValue
        if first & notPrefix == 0 {
            // `[^\r\n\p{L}\p{N}]?` takes the scalar first; the regex falls back to no prefix only
            // where the scalar itself starts a word, which only a mark does.
            let next = start &+ firstLength
            let nextIsWord = bits(at: next) & letterOrMark != 0
            if nextIsWord, let end = o200kLowerWordEnd(from: next) { return end }
            if first & ScalarClass.mark.rawValue != 0, let end = o200kLowerWordEnd(from: start) { return end }
            if nextIsWord { return o200kUpperWordEnd(from: next) }
        }
        if first & ScalarClass.number.rawValue != 0 { return numberEnd(from: start) }
        if let end = punctuationEnd(at: start, slash: true) { return end }
        return whitespaceEnd(at: start, wholeRunAtEnd: false)
    }

    /// `[ULC]*[LLC]+(?i:contraction)?` at `start`, with the regex's backtracking: the longest
    /// upper run is kept if a lower letter follows it; otherwise the match ends after the run's
    /// last scalar that is also lower (Lm, Lo, M). Nil when there is none.
    @inline(__always)
    func o200kLowerWordEnd(from start: Int) -> Int? {
        let upper = ScalarClass.upperish.rawValue
        let lower = ScalarClass.lowerish.rawValue
        var position = start
        var lastLowerEnd = -1
        while position < end {
            let (bits, length) = scalar(at: position)
            if bits & upper == 0 {
                if bits & lower != 0 {
                    let wordEnd = run(from: position &+ length, while: lower)
                    return contractionEnd(at: wordEnd) ?? wordEnd
                }
                break
            }
            position &+= length
            if bits & lower != 0 { lastLowerEnd = position }
        }
        guard lastLowerEnd >= 0 else { return nil }
        return contractionEnd(at: lastLowerEnd) ?? lastLowerEnd
    }

    /// `[ULC]+[LLC]*(?i:contraction)?` at `start`, which must be an upper-class scalar.
    @inline(__always)
    func o200kUpperWordEnd(from start: Int) -> Int {
        let upperEnd = run(from: start, while: ScalarClass.upperish.rawValue)
        let wordEnd = run(from: upperEnd, while: ScalarClass.lowerish.rawValue)
        return contractionEnd(at: wordEnd) ?? wordEnd
    }

    /// The end of the cl100k_base piece that starts at `start` (`start < end`).
    @inline(__always)
    func cl100kPieceEnd(from start: Int) -> Int {
        let letter = ScalarClass.letter.rawValue
        if base[start] == 0x27, let end = contractionEnd(at: start) { return end }
        let (first, firstLength) = scalar(at: start)
        if first & letter != 0 { return run(from: start &+ firstLength, while: letter) }
        let notPrefix = letter | ScalarClass.number.rawValue | ScalarClass.newline.rawValue
        if first & notPrefix == 0 {
            // `[^\r\n\p{L}\p{N}]?+` is possessive: with the prefix taken, letters must follow.
            let next = start &+ firstLength
            if bits(at: next) & letter != 0 { return run(from: next, while: letter) }
        }
        if first & ScalarClass.number.rawValue != 0 { return numberEnd(from: start) }
        if let end = punctuationEnd(at: start, slash: false) { return end }
        return whitespaceEnd(at: start, wholeRunAtEnd: true)
    }

    /// The end of the piece at `start` under `pattern`.
    @inline(__always)
    func pieceEnd(from start: Int, pattern: Pattern) -> Int {
        switch pattern {
        case .o200k: o200kPieceEnd(from: start)
        case .cl100k: cl100kPieceEnd(from: start)
        }
    }
}
