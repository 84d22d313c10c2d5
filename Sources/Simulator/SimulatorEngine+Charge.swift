import Tokenizer

extension SimulatorEngine {
    /// The service's own prompt count for the usage: each message's role, content and name in the
    /// model's vocabulary, 3 tokens of framing per message (1 more with a name) and 3 that prime the
    /// reply, as OpenAI documents the chat format. (The simulator keeps its own count: it must not
    /// agree with the client by sharing its code.)
    static func promptTokens(_ messages: [ChatMessage], encoding: BytePairEncoding) -> Int {
        var total = 3
        for message in messages {
            total += 3 + encoding.count(message.role) + encoding.count(message.content)
            if let name = message.name { total += 1 + encoding.count(name) }
        }
        return total
    }

    /// What a request is charged at arrival. Standard: the configured rule's prompt estimate (by
    /// default characters / 4, as Azure's documented estimate is character-based) times the skew,
    /// plus max_tokens, × n. Provisioned: prompt tokens (nothing is cached here) + max_tokens, × n.
    func arrivalCharge(
        _ kind: SimulatorConfiguration.Deployment.Kind, messages: [ChatMessage], promptTokens: Int, maxTokens: Int,
        n: Int
    ) -> Int {
        guard case .standard = kind else { return (promptTokens + maxTokens) * n }
        let estimate: Double
        switch configuration.charge {
        case .tokens:
            estimate = Double(promptTokens)
        case .chars:
            let characters = messages.reduce(0) { total, message in
                total + message.role.unicodeScalars.count + message.content.unicodeScalars.count
                    + (message.name?.unicodeScalars.count ?? 0)
            }
            estimate = (Double(characters) / 4).rounded(.up)
        }
        let skewed = Int((estimate * max(0, configuration.chargeSkew)).rounded())
        return (skewed + maxTokens) * n
    }
}
