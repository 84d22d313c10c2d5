/// A shell-style pattern over `/`-separated relative paths: `*` and `?` within one segment, `**`
/// across any number of segments, `[abc]` character sets. A pattern without `/` matches a file name
/// in any folder (`*.md` matches `docs/a.md`).
package struct Glob: Sendable, Hashable {
    /// The pattern as written.
    package let pattern: String
    private let segments: [Substring]
    private let anyFolder: Bool

    /// A pattern with `*`, `**`, `?` and `[...]`, matched against relative paths with `/`.
    package init(_ pattern: String) {
        self.pattern = pattern
        anyFolder = !pattern.contains("/")
        segments = pattern.split(separator: "/", omittingEmptySubsequences: true)
    }

    /// Whether the relative path matches.
    package func matches(_ path: String) -> Bool {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        if anyFolder, let name = parts.last, let only = segments.first, segments.count == 1 {
            return Self.matchSegment(Array(only.unicodeScalars), Array(name.unicodeScalars))
        }
        return Self.match(segments[...], parts[...])
    }

    private static func match(_ pattern: ArraySlice<Substring>, _ path: ArraySlice<Substring>) -> Bool {
        guard let first = pattern.first else { return path.isEmpty }
        if first == "**" {
            let rest = pattern.dropFirst()
            var remaining = path
            while true {
                if match(rest, remaining) { return true }
                guard !remaining.isEmpty else { return false }
                remaining = remaining.dropFirst()
            }
        }
        guard let segment = path.first, matchSegment(Array(first.unicodeScalars), Array(segment.unicodeScalars)) else {
            return false
        }
        return match(pattern.dropFirst(), path.dropFirst())
    }

    /// `*`, `?` and `[...]` within one segment.
    static func matchSegment(_ pattern: [Unicode.Scalar], _ text: [Unicode.Scalar]) -> Bool {
        var p = 0
        var t = 0
        var starP = -1
        var starT = 0
        while t < text.count {
            if p < pattern.count, pattern[p] == "*" {
                starP = p
                starT = t
                p += 1
                continue
            }
            if p < pattern.count, let width = matchOne(pattern, p, text[t]) {
                p += width
                t += 1
                continue
            }
            guard starP >= 0 else { return false }
            p = starP + 1
            starT += 1
            t = starT
        }
        while p < pattern.count, pattern[p] == "*" { p += 1 }
        return p == pattern.count
    }

    /// If the pattern element at `index` matches `scalar`, its width in the pattern.
    private static func matchOne(_ pattern: [Unicode.Scalar], _ index: Int, _ scalar: Unicode.Scalar) -> Int? {
        switch pattern[index] {
        case "?": return 1
        case "[":
            guard let close = pattern[(index + 1)...].firstIndex(of: "]"), close > index + 1 else {
                return scalar == "[" ? 1 : nil
            }
            var set = pattern[(index + 1)..<close]
            let negated = set.first == "!" || set.first == "^"
            if negated { set = set.dropFirst() }
            var found = false
            var position = set.startIndex
            while position < set.endIndex {
                if position + 2 < set.endIndex, set[position + 1] == "-" {
                    if set[position] <= scalar && scalar <= set[position + 2] { found = true }
                    position += 3
                } else {
                    if set[position] == scalar { found = true }
                    position += 1
                }
            }
            return found != negated ? close - index + 1 : nil
        default:
            return pattern[index] == scalar ? 1 : nil
        }
    }
}
