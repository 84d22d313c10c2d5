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
    /// A reduce call (nil: a chunk's call).
    public var reduce: ReduceStep? = nil
    /// Where the result goes as one part of a reduce, besides its JSONL line.
    public var delivery: PartDelivery? = nil
    /// What the calls whose results this reduce call takes cost (document cost so far).
    public var inputsCost: Double? = nil

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

/// Which reduce call: its level (0 over the chunks, 1 over level-0 groups, ...), its group and whether
/// its result is the document's.
public struct ReduceStep: Sendable, Codable, Hashable {
    public var level: Int
    public var group: Int
    public var groups: Int
    public var final: Bool

    public init(level: Int, group: Int, groups: Int, final: Bool) {
        self.level = level
        self.group = group
        self.groups = groups
        self.final = final
    }
}

/// The reduce job a result is delivered to, and its place among the parts.
public struct PartDelivery: Sendable, Codable, Hashable {
    public var key: String
    public var part: Int

    public init(key: String, part: Int) {
        self.key = key
        self.part = part
    }
}

/// Input of a reduce job: the document whose parts it waits for.
public struct ReduceInput: Sendable, Codable, Hashable {
    public var document: DocumentRef
    public var level: Int
    /// Chunks of the document.
    public var chunks: Int

    public init(document: DocumentRef, level: Int, chunks: Int) {
        self.document = document
        self.level = level
        self.chunks = chunks
    }
}

/// One result a reduce job takes: a chunk's (level 0) or a group's reply.
public struct ReducePart: Sendable, Codable, Hashable {
    public var index: Int
    /// The reply's text (for JSON replies, the JSON).
    public var text: String
    /// The cost of the calls behind it (nil: not priced).
    public var cost: Double?

    public init(index: Int, text: String, cost: Double?) {
        self.index = index
        self.text = text
        self.cost = cost
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
    /// The list-price cost of this call (nil: not priced, e.g. provisioned).
    public var cost: CostRecord?
    /// The reply parsed as JSON (structured outputs), compact text.
    public var output: String?

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

/// A call's cost as written to the JSONL and the queue (currency units, list price).
public struct CostRecord: Sendable, Codable, Hashable {
    public var input: Double
    public var cachedInput: Double
    public var output: Double
    public var total: Double
    /// The model whose prices applied.
    public var model: String
    /// The deployment type priced (global, data_zone, standard, batch).
    public var tier: String

    public init(input: Double, cachedInput: Double, output: Double, model: String, tier: String) {
        self.input = input
        self.cachedInput = cachedInput
        self.output = output
        self.total = input + cachedInput + output
        self.model = model
        self.tier = tier
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
    /// A reduce call's line (nil: a chunk's).
    public var reduce: ReduceStep? = nil
    /// The document's line: what every call behind it cost.
    public var documentCost: Double? = nil

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
