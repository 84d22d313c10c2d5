/// Input of an ingest job: a document to read.
public struct IngestInput: Sendable, Codable, Hashable {
    public var document: DocumentRef
    /// Absolute path of the file when it was enqueued.
    public var file: String

    public init(document: DocumentRef, file: String) {
        self.document = document
        self.file = file
    }
}

/// Input of a chunk job: a document's decoded text.
public struct ChunkInput: Sendable, Codable, Hashable {
    public var document: DocumentRef
    public var text: String

    public init(document: DocumentRef, text: String) {
        self.document = document
        self.text = text
    }
}

/// Input of a prompt job: one chunk of a document.
public struct PromptInput: Sendable, Codable, Hashable {
    public var document: DocumentRef
    public var chunk: Int
    public var chunks: Int
    public var text: String
    public var tokens: Int
    /// The headings in effect where the chunk starts, outermost first.
    public var headingPath: [String]?
    /// The page, slide or sheet where the chunk starts.
    public var page: Int?

    public init(
        document: DocumentRef, chunk: Int, chunks: Int, text: String, tokens: Int, headingPath: [String]? = nil,
        page: Int? = nil
    ) {
        self.document = document
        self.chunk = chunk
        self.chunks = chunks
        self.text = text
        self.tokens = tokens
        self.headingPath = headingPath
        self.page = page
    }
}

/// Input of a call job: the rendered request.
public struct CallInput: Sendable, Codable, Hashable {
    public var document: DocumentRef
    public var chunk: Int
    public var chunks: Int
    /// Stable across runs for the same unit of work.
    public var customID: String
    /// The unit's identity: document hash, chunk index, pipeline hash.
    public var unitKey: String
    /// The chat completion request body, JSON, without `model` (added per deployment).
    public var body: String
    /// Estimated prompt tokens.
    public var promptTokens: Int
    /// Azure's quota charge at arrival: prompt estimate + max_tokens, × n.
    public var charge: Int
    /// The headings in effect where the chunk starts, outermost first.
    public var headingPath: [String]? = nil
    /// The page, slide or sheet where the chunk starts.
    public var page: Int? = nil

    public init(
        document: DocumentRef, chunk: Int, chunks: Int, customID: String, unitKey: String, body: String,
        promptTokens: Int, charge: Int
    ) {
        self.document = document
        self.chunk = chunk
        self.chunks = chunks
        self.customID = customID
        self.unitKey = unitKey
        self.body = body
        self.promptTokens = promptTokens
        self.charge = charge
    }
}

/// Token usage reported by the service.
public struct Usage: Sendable, Codable, Hashable {
    public var promptTokens: Int
    public var completionTokens: Int
    public var totalTokens: Int
    public var cachedTokens: Int?
    public var reasoningTokens: Int?

    public init(
        promptTokens: Int, completionTokens: Int, totalTokens: Int, cachedTokens: Int? = nil,
        reasoningTokens: Int? = nil
    ) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.totalTokens = totalTokens
        self.cachedTokens = cachedTokens
        self.reasoningTokens = reasoningTokens
    }

    enum CodingKeys: String, CodingKey {
        case promptTokens = "prompt_tokens"
        case completionTokens = "completion_tokens"
        case totalTokens = "total_tokens"
        case cachedTokens = "cached_tokens"
        case reasoningTokens = "reasoning_tokens"
    }
}

/// What a call produced: the response, or the error that ended it.
public struct CallRecord: Sendable, Codable, Hashable {
    public var statusCode: Int?
    public var requestID: String?
    /// The response body (a chat.completion), JSON text.
    public var body: String?
    public var errorCode: String?
    public var errorMessage: String?
    public var deployment: String
    public var model: String?
    public var attempts: Int
    public var latencyMilliseconds: Int
    public var usage: Usage?
    /// The Azure deployment that answered, when Azure's spillover sent the request elsewhere.
    public var spilledTo: String?

    public init(
        statusCode: Int?, requestID: String?, body: String?, errorCode: String?, errorMessage: String?,
        deployment: String, model: String?, attempts: Int, latencyMilliseconds: Int, usage: Usage?
    ) {
        self.statusCode = statusCode
        self.requestID = requestID
        self.body = body
        self.errorCode = errorCode
        self.errorMessage = errorMessage
        self.deployment = deployment
        self.model = model
        self.attempts = attempts
        self.latencyMilliseconds = latencyMilliseconds
        self.usage = usage
    }
}

/// Input of a collect job: everything the chunk's JSONL line holds.
public struct CollectInput: Sendable, Codable, Hashable {
    public var document: DocumentRef
    public var chunk: Int
    public var chunks: Int
    public var customID: String
    public var pipeline: String
    public var record: CallRecord
    /// The headings in effect where the chunk starts, outermost first.
    public var headingPath: [String]? = nil
    /// The page, slide or sheet where the chunk starts.
    public var page: Int? = nil

    public init(document: DocumentRef, chunk: Int, chunks: Int, customID: String, pipeline: String, record: CallRecord)
    {
        self.document = document
        self.chunk = chunk
        self.chunks = chunks
        self.customID = customID
        self.pipeline = pipeline
        self.record = record
    }
}
