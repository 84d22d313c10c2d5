/// The BPE encodings Sluice ships.
public enum EncodingName: String, Sendable, CaseIterable, Codable {
    /// gpt-4o, gpt-4.1, gpt-4.5, gpt-5 and the o-series.
    case o200kBase = "o200k_base"
    /// gpt-oss: o200k_base's tokens with the harmony chat format's special tokens.
    case o200kHarmony = "o200k_harmony"
    /// gpt-4, gpt-3.5-turbo (gpt-35-turbo on Azure) and text-embedding-3 / ada-002.
    case cl100kBase = "cl100k_base"
}
