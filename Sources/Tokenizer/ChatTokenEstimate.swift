/// One message of a chat completion request, as far as counting its tokens goes.
public struct ChatMessage: Sendable, Hashable, Codable {
    /// `system`, `developer`, `user`, `assistant` or `tool`.
    public var role: String
    /// The text content; a multi-part content's text parts joined.
    public var content: String
    /// The optional participant name.
    public var name: String?

    /// A message with its role, content and optional name.
    public init(role: String, content: String, name: String? = nil) {
        self.role = role
        self.content = content
        self.name = name
    }
}

/// The per-message overhead of the chat format, added to the tokens of each message's fields.
///
/// The figures are the ones OpenAI documents in its cookbook ("How to count tokens with tiktoken")
/// for the gpt-3.5-turbo, gpt-4 and gpt-4o families: every message costs 3 tokens plus its role,
/// content and name; a name costs 1 more; every reply is primed with 3 tokens. gpt-3.5-turbo-0301
/// used 4 per message and -1 per name.
public struct ChatFormat: Sendable, Hashable {
    /// Tokens added for every message.
    public var tokensPerMessage: Int
    /// Tokens added for every message that has a name.
    public var tokensPerName: Int
    /// Tokens that prime the assistant's reply, added once.
    public var replyPriming: Int

    /// The message overheads of a model family.
    public init(tokensPerMessage: Int = 3, tokensPerName: Int = 1, replyPriming: Int = 3) {
        self.tokensPerMessage = tokensPerMessage
        self.tokensPerName = tokensPerName
        self.replyPriming = replyPriming
    }

    /// The format of current chat models.
    public static let standard = ChatFormat()

    /// The format a model uses.
    public static func forModel(_ model: String) -> ChatFormat {
        let name = model.lowercased()
        if name.hasSuffix("turbo-0301") { return ChatFormat(tokensPerMessage: 4, tokensPerName: -1) }
        return .standard
    }
}

extension BytePairEncoding {
    /// Estimates the prompt tokens of a chat completion request: each message's role, content and
    /// name counted as ordinary text, plus the chat format's overhead.
    ///
    /// This is the figure the scheduler charges before a call and the cost estimator prices; the
    /// service's reported `prompt_tokens` is authoritative after the call.
    public func estimatePromptTokens(_ messages: [ChatMessage], format: ChatFormat = .standard) -> Int {
        var total = format.replyPriming
        for message in messages {
            total += format.tokensPerMessage + count(message.role) + count(message.content)
            if let name = message.name { total += count(name) + format.tokensPerName }
        }
        return total
    }
}
