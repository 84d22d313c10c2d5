import Foundation
import SluiceCore

/// What one HTTP attempt produced, classified.
public struct CallOutcome: Sendable {
    /// HTTP status, when a response arrived.
    public var statusCode: Int?
    /// The response body, when one arrived.
    public var body: Data?
    /// `apim-request-id` or `x-request-id`.
    public var requestID: String?
    /// Nil on success; otherwise why it failed.
    public var errorClass: ErrorClass?
    /// What went wrong, for the user (nil on success).
    public var message: String?
    /// The service's `retry-after-ms` or `retry-after`, in seconds.
    public var retryAfter: Double?
    /// The model that served the call (`model` in the body).
    public var model: String?
    /// The first choice's message content, when the reply is a chat completion.
    public var content: String?
    /// Token usage the service reported.
    public var usage: Usage?
    /// `x-ratelimit-remaining-tokens` / `-requests`.
    public var remainingTokens: Int?
    /// `x-ratelimit-remaining-requests`.
    public var remainingRequests: Int?
    /// `x-ratelimit-limit-tokens` / `-requests`, when sent.
    public var limitTokens: Int?
    /// `x-ratelimit-limit-requests`.
    public var limitRequests: Int?
    /// `x-ms-region`: the backend that answered.
    public var region: String?
    /// `azure-openai-deployment-utilization` as a fraction ("87.5%" → 0.875), when sent.
    public var utilization: Double?
    /// `x-ms-deployment-name`: the deployment that served the call (differs after a spillover).
    public var servedBy: String?
    /// Wall time of the attempt.
    public var latencySeconds: Double

    /// Whether the attempt succeeded (a 2xx chat completion).
    public var succeeded: Bool { errorClass == nil }
}
