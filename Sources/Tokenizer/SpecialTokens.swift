extension EncodingName {
    /// The special tokens of the encoding, as tiktoken 0.14 defines them.
    var specialTokens: [String: Int] {
        switch self {
        case .o200kBase:
            return ["<|endoftext|>": 199_999, "<|endofprompt|>": 200_018]
        case .o200kHarmony:
            var tokens: [String: Int] = [
                "<|endofprompt|>": 200_018,
                "<|startoftext|>": 199_998, "<|endoftext|>": 199_999,
                "<|return|>": 200_002, "<|constrain|>": 200_003, "<|channel|>": 200_005,
                "<|start|>": 200_006, "<|end|>": 200_007, "<|message|>": 200_008, "<|call|>": 200_012,
            ]
            for id in [200_000, 200_001, 200_004, 200_009, 200_010, 200_011] + Array(200_013..<201_088) {
                tokens["<|reserved_\(id)|>"] = id
            }
            return tokens
        case .cl100kBase:
            return [
                "<|endoftext|>": 100_257, "<|fim_prefix|>": 100_258, "<|fim_middle|>": 100_259,
                "<|fim_suffix|>": 100_260, "<|endofprompt|>": 100_276,
            ]
        }
    }
}

/// Which special tokens `encode` may produce.
///
/// Untrusted text — every document — must be encoded with ``none``: text such as `<|endoftext|>`
/// inside a document is then ordinary text, and counting it can never fail or inject a control token.
public enum SpecialTokenPolicy: Sendable, Hashable {
    /// All text is ordinary text (tiktoken's `encode_ordinary`).
    case none
    /// Every special token of the encoding is recognised.
    case all
    /// Only these special tokens are recognised; any other is ordinary text.
    case only(Set<String>)
}
