/// Why a job failed, as recorded in the queue and the JSONL `error.code`.
public enum ErrorClass: String, Sendable, Codable, CaseIterable {
    // Retryable
    case rateLimited = "rate_limited"
    case serverError = "server_error"
    case timeout
    case connection = "connection_error"
    case invalidResponse = "invalid_response"
    // Terminal
    case contentFilter = "content_filter"
    case contextLengthExceeded = "context_length_exceeded"
    case badRequest = "bad_request"
    case unauthorized
    /// The endpoint answered with a redirect (3xx): never followed with a key, so a configuration error.
    case redirected
    case unreadableDocument = "unreadable_document"
    case invalidJob = "invalid_job"
    /// The reply was not valid JSON for the pipeline's response format, after the allowed retries.
    case invalidOutput = "invalid_output"
    /// The prompt and max_tokens do not fit the model's context: found before calling.
    case contextOverflow = "context_overflow"
    /// A chunk of the document failed, so it has no reduce result.
    case incomplete

    /// Whether another attempt may succeed.
    public var isRetryable: Bool {
        switch self {
        case .rateLimited, .serverError, .timeout, .connection, .invalidResponse: true
        default: false
        }
    }
}
