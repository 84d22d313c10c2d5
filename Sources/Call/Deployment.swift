import Foundation

/// Where and how to call a model.
public struct Deployment: Sendable, Hashable, CustomStringConvertible {
    /// The URL shape of the endpoint.
    public enum API: Sendable, Hashable {
        /// `{endpoint}/openai/deployments/{deployment}/chat/completions?api-version=...`
        case azure(apiVersion: String)
        /// `{endpoint}/openai/v1/chat/completions` with `"model": "{deployment}"`.
        case azureV1
        /// `{endpoint}/v1/chat/completions` (or `{endpoint}/chat/completions` when the endpoint ends in `/v1`).
        case openAICompatible
    }

    /// How requests authenticate. The secret is held in memory only and never printed.
    public enum Authentication: Sendable, Hashable {
        case apiKey(String)
        case bearer(String)
        /// A Microsoft Entra ID token, fetched and refreshed as needed.
        case entra(EntraTokenSource)
        case none
    }

    /// The name Sluice uses for it (JSONL `deployment`, status, logs).
    public var name: String
    /// Base URL, e.g. `https://my-resource.openai.azure.com`.
    public var endpoint: String
    /// The URL shape.
    public var api: API
    /// The Azure deployment name (or the model name for OpenAI-compatible servers).
    public var deployment: String
    /// How requests are authenticated (the secret, read from the environment).
    public var authentication: Authentication
    /// Per-request timeout in seconds.
    public var timeoutSeconds: Double
    /// Requests in flight at most.
    public var maxConcurrency: Int
    /// Tokens per minute the pacer stays under (nil: not paced by tokens).
    public var tokensPerMinute: Int?
    /// Requests per minute the pacer stays under (nil: not paced by requests).
    public var requestsPerMinute: Int?
    /// Azure's own spillover: sent as `x-ms-spillover-deployment` so a full provisioned deployment
    /// hands the request to this standard deployment of the same resource.
    public var spilloverDeployment: String?

    /// Creates it from its fields.
    public init(
        name: String, endpoint: String, api: API, deployment: String, authentication: Authentication,
        timeoutSeconds: Double = 120, maxConcurrency: Int = 32, tokensPerMinute: Int? = nil,
        requestsPerMinute: Int? = nil
    ) {
        self.name = name
        self.endpoint = endpoint
        self.api = api
        self.deployment = deployment
        self.authentication = authentication
        self.timeoutSeconds = timeoutSeconds
        self.maxConcurrency = maxConcurrency
        self.tokensPerMinute = tokensPerMinute
        self.requestsPerMinute = requestsPerMinute
    }

    /// The chat completions URL.
    public var url: String {
        var base = endpoint
        while base.hasSuffix("/") { base.removeLast() }
        switch api {
        case .azure(let version):
            let name = deployment.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? deployment
            return "\(base)/openai/deployments/\(name)/chat/completions?api-version=\(version)"
        case .azureV1:
            return "\(base)/openai/v1/chat/completions"
        case .openAICompatible:
            return base.hasSuffix("/v1") ? "\(base)/chat/completions" : "\(base)/v1/chat/completions"
        }
    }

    /// Whether the body names the deployment in `model`.
    public var sendsModelInBody: Bool {
        if case .azure = api { return false }
        return true
    }

    /// Describes the deployment without its secret.
    public var description: String {
        let auth: String
        switch authentication {
        case .apiKey: auth = "api-key"
        case .bearer: auth = "bearer token"
        case .entra(let source): auth = "Entra ID (\(source.method.rawValue))"
        case .none: auth = "no auth"
        }
        return "\(name) (\(url), \(auth))"
    }
}
