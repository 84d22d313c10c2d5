/// Which encoding a model or Azure deployment's model name uses.
public struct ModelEncoding: Sendable, Hashable {
    /// The encoding to count with.
    public let encoding: EncodingName
    /// Whether the model was recognised; when false, ``encoding`` is o200k_base as a fallback.
    public let isKnown: Bool
    /// A warning to show the user when the model was not recognised, naming the model.
    public let warning: String?

    /// Resolves a model name such as `gpt-4o-2024-08-06`, `gpt-35-turbo-16k`, `o3-mini` or
    /// `azure/gpt-4.1-mini`.
    ///
    /// Exact names are looked up first, then the longest matching prefix wins (so `gpt-4o` and
    /// `gpt-4.1` are found before `gpt-4`); a prefix must end at the name's end or before `-`, `.`,
    /// `:`, `@` or `_`. Case and a leading `azure/` or `openai/` are ignored. Anything else falls
    /// back to o200k_base with a warning.
    public static func resolve(model: String) -> ModelEncoding {
        var name = model.lowercased()
        for provider in ["azure/", "openai/", "azure_openai/"] where name.hasPrefix(provider) {
            name.removeFirst(provider.count)
        }
        if let exact = exactNames[name] { return ModelEncoding(encoding: exact, isKnown: true, warning: nil) }
        for (prefix, encoding) in prefixes where name.hasPrefix(prefix) {
            let rest = name.dropFirst(prefix.count)
            if let next = rest.first, !"-.:@_".contains(next) { continue }
            return ModelEncoding(encoding: encoding, isKnown: true, warning: nil)
        }
        let family = ownTokenizerFamilies.first { name.hasPrefix($0) || name.contains("/" + $0) }
        let warning: String
        if family != nil {
            warning =
                "model '\(model)' has its own tokenizer, not an OpenAI one; "
                + "token counts use o200k_base and are an approximation"
        } else {
            warning = "unknown model '\(model)'; counting tokens with o200k_base (choose an encoding to override)"
        }
        return ModelEncoding(encoding: .o200kBase, isKnown: false, warning: warning)
    }

    private static let exactNames: [String: EncodingName] = [
        "gpt-3.5": .cl100kBase,
        "text-embedding-ada-002": .cl100kBase,
        "davinci-002": .cl100kBase,
        "babbage-002": .cl100kBase,
        "model-router": .o200kBase,
    ]

    /// Longest first, so that the first match is the longest.
    private static let prefixes: [(String, EncodingName)] = [
        ("gpt-4o", .o200kBase), ("chatgpt-4o", .o200kBase), ("gpt-4.1", .o200kBase), ("gpt-4.5", .o200kBase),
        ("gpt-5", .o200kBase), ("o1", .o200kBase), ("o3", .o200kBase), ("o4-mini", .o200kBase),
        ("codex-mini", .o200kBase), ("computer-use-preview", .o200kBase), ("gpt-realtime", .o200kBase),
        ("gpt-audio", .o200kBase), ("model-router", .o200kBase), ("ft:gpt-4o", .o200kBase),
        ("ft:gpt-4.1", .o200kBase),
        ("gpt-oss", .o200kHarmony),
        ("gpt-4", .cl100kBase), ("gpt-3.5-turbo", .cl100kBase), ("gpt-35-turbo", .cl100kBase),
        ("text-embedding-3", .cl100kBase), ("ft:gpt-4", .cl100kBase), ("ft:gpt-3.5-turbo", .cl100kBase),
        ("ft:gpt-35-turbo", .cl100kBase), ("ft:davinci-002", .cl100kBase), ("ft:babbage-002", .cl100kBase),
    ].sorted { $0.0.count > $1.0.count }

    private static let ownTokenizerFamilies = [
        "phi-", "llama", "meta-llama", "mistral", "ministral", "codestral", "deepseek", "grok", "cohere",
        "jamba", "qwen", "gemma", "mai-ds",
    ]
}
