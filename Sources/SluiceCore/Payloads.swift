import Foundation

/// Input of an ingest job: a document to read.
public struct IngestInput: Sendable, Codable, Hashable {
    /// The document.
    public var document: DocumentRef
    /// Absolute path of the file when it was enqueued.
    public var file: String

    /// Creates it from its fields.
    public init(document: DocumentRef, file: String) {
        self.document = document
        self.file = file
    }
}

/// Input of a chunk job: a document's extracted blocks, in reading order.
public struct ChunkInput: Sendable, Codable, Hashable {
    /// The document.
    public var document: DocumentRef
    /// Its blocks, in reading order.
    public var blocks: [TextBlock]

    /// Creates it from its fields.
    public init(document: DocumentRef, blocks: [TextBlock]) {
        self.document = document
        self.blocks = blocks
    }

    enum CodingKeys: String, CodingKey { case document, blocks, text }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        document = try container.decode(DocumentRef.self, forKey: .document)
        if let blocks = try container.decodeIfPresent([TextBlock].self, forKey: .blocks) {
            self.blocks = blocks
        } else {
            // A chunk job of a queue made before blocks were passed holds the text: read its blocks.
            let text = try container.decode(String.self, forKey: .text)
            blocks = TextBlock.blocks(of: text, format: (document.path as NSString).pathExtension.lowercased())
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(document, forKey: .document)
        try container.encode(blocks, forKey: .blocks)
    }
}

/// Input of a prompt job: one chunk of a document.
public struct PromptInput: Sendable, Codable, Hashable {
    /// The document.
    public var document: DocumentRef
    /// Its index among the document's chunks (from 0).
    public var chunk: Int
    /// Chunks of the document.
    public var chunks: Int
    /// The chunk's text.
    public var text: String
    /// Its exact token count.
    public var tokens: Int
    /// The headings in effect where the chunk starts, outermost first.
    public var headingPath: [String]?
    /// The page, slide or sheet where the chunk starts.
    public var page: Int?

    /// Creates it from its fields.
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

/// Input of a call job: the rendered request. The request body travels as the job's bytes
/// (``Job/body``), not inside this JSON.
public struct CallInput: Sendable, Codable, Hashable {
    /// The document.
    public var document: DocumentRef
    /// The chunk's index (a reduce call's group).
    public var chunk: Int
    /// Chunks of the document.
    public var chunks: Int
    /// Stable across runs for the same unit of work.
    public var customID: String
    /// The unit's identity: document hash, chunk index, pipeline hash.
    public var unitKey: String
    /// The chat completion request body, JSON, without `model` (added per deployment); not encoded
    /// with the rest (it is the call job's ``Job/body``).
    public var body: Data = Data()
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

    enum CodingKeys: String, CodingKey {
        case document, chunk, chunks, customID, unitKey, promptTokens, charge, headingPath, page, reduce, delivery
        case inputsCost
    }

    /// Creates it from its fields.
    public init(
        document: DocumentRef, chunk: Int, chunks: Int, customID: String, unitKey: String, body: Data,
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
    /// 0 over the chunks' results, 1 over level-0 groups, ...
    public var level: Int
    /// The group at this level.
    public var group: Int
    /// Groups at this level.
    public var groups: Int
    /// Whether its result is the document's.
    public var final: Bool

    /// Creates it from its fields.
    public init(level: Int, group: Int, groups: Int, final: Bool) {
        self.level = level
        self.group = group
        self.groups = groups
        self.final = final
    }
}

/// The reduce job a result is delivered to, and its place among the parts.
public struct PartDelivery: Sendable, Codable, Hashable {
    /// The waiting reduce job's key.
    public var key: String
    /// Its place among the parts.
    public var part: Int

    /// Creates it from its fields.
    public init(key: String, part: Int) {
        self.key = key
        self.part = part
    }
}

/// Input of a reduce job: the document whose parts it waits for.
public struct ReduceInput: Sendable, Codable, Hashable {
    /// The document.
    public var document: DocumentRef
    /// The reduce level.
    public var level: Int
    /// Chunks of the document.
    public var chunks: Int

    /// Creates it from its fields.
    public init(document: DocumentRef, level: Int, chunks: Int) {
        self.document = document
        self.level = level
        self.chunks = chunks
    }
}

/// One result a reduce job takes: a chunk's (level 0) or a group's reply.
public struct ReducePart: Sendable, Codable, Hashable {
    /// Its place among the parts.
    public var index: Int
    /// The reply's text (for JSON replies, the JSON).
    public var text: String
    /// The cost of the calls behind it (nil: not priced).
    public var cost: Double?

    /// Creates it from its fields.
    public init(index: Int, text: String, cost: Double?) {
        self.index = index
        self.text = text
        self.cost = cost
    }
}

/// Token usage reported by the service.
public struct Usage: Sendable, Codable, Hashable {
    /// Prompt tokens billed.
    public var promptTokens: Int
    /// Completion tokens billed (reasoning included).
    public var completionTokens: Int
    /// Both.
    public var totalTokens: Int
    /// Prompt tokens served from the cache.
    public var cachedTokens: Int?
    /// Reasoning tokens among the completion tokens.
    public var reasoningTokens: Int?

    /// Creates it from its fields.
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
    /// HTTP status, when a response arrived.
    public var statusCode: Int?
    /// `apim-request-id` or `x-request-id`.
    public var requestID: String?
    /// The response body (a chat.completion) as the service sent it; stored as bytes beside the
    /// record's JSON, never inside it.
    public var body: Data? = nil
    /// The error class (nil: success).
    public var errorCode: String?
    /// What went wrong.
    public var errorMessage: String?
    /// The deployment called (its name in the configuration).
    public var deployment: String
    /// The model that served the call.
    public var model: String?
    /// Attempts made.
    public var attempts: Int
    /// Wall time of the last attempt.
    public var latencyMilliseconds: Int
    /// Token usage the service reported.
    public var usage: Usage?
    /// The Azure deployment that answered, when Azure's spillover sent the request elsewhere.
    public var spilledTo: String?
    /// The list-price cost of this call (nil: not priced, e.g. provisioned).
    public var cost: CostRecord?
    /// The reply parsed as JSON (structured outputs), compact text.
    public var output: String?
    /// The batch that answered it, when it went through the batch lane (nil: online).
    public var batchID: String?

    enum CodingKeys: String, CodingKey {
        case statusCode, requestID, errorCode, errorMessage, deployment, model, attempts, latencyMilliseconds, usage
        case spilledTo, cost, output, batchID
    }

    /// Creates it from its fields.
    public init(
        statusCode: Int?, requestID: String?, body: Data?, errorCode: String?, errorMessage: String?,
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
    /// Prompt tokens' share.
    public var input: Double
    /// Cached prompt tokens' share.
    public var cachedInput: Double
    /// Completion tokens' share.
    public var output: Double
    /// All of it.
    public var total: Double
    /// The model whose prices applied.
    public var model: String
    /// The deployment type priced (global, data_zone, standard, batch).
    public var tier: String

    /// Creates it from its fields.
    public init(input: Double, cachedInput: Double, output: Double, model: String, tier: String) {
        self.input = input
        self.cachedInput = cachedInput
        self.output = output
        self.total = input + cachedInput + output
        self.model = model
        self.tier = tier
    }
}

/// Input of a collect job: everything the chunk's JSONL line holds. A call that succeeded is pointed
/// at by its unit key (its record and body are read from the stored result); a failed call's record
/// is carried here, with a kept reply body as the job's ``Job/body``.
public struct CollectInput: Sendable, Codable, Hashable {
    /// The document.
    public var document: DocumentRef
    /// The chunk's index.
    public var chunk: Int
    /// Chunks of the document.
    public var chunks: Int
    /// The line's `custom_id`.
    public var customID: String
    /// The pipeline's name.
    public var pipeline: String
    /// The call's record, when no stored result holds it.
    public var record: CallRecord?
    /// The unit whose stored result is the line's record.
    public var unitKey: String? = nil
    /// The headings in effect where the chunk starts, outermost first.
    public var headingPath: [String]? = nil
    /// The page, slide or sheet where the chunk starts.
    public var page: Int? = nil
    /// A reduce call's line (nil: a chunk's).
    public var reduce: ReduceStep? = nil
    /// The document's line: what every call behind it cost.
    public var documentCost: Double? = nil

    /// Creates it from its fields.
    public init(
        document: DocumentRef, chunk: Int, chunks: Int, customID: String, pipeline: String, record: CallRecord?
    ) {
        self.document = document
        self.chunk = chunk
        self.chunks = chunks
        self.customID = customID
        self.pipeline = pipeline
        self.record = record
    }
}

extension CollectInput {
    /// The line of a call: the call's document, chunk, heading path, page and reduce step.
    ///
    /// - Parameters:
    ///   - record: The call's record; nil when the line points at the stored result of `unitKey`.
    ///   - unitKey: The unit whose stored result holds the record.
    public init(call: CallInput, pipeline: String, record: CallRecord?, unitKey: String? = nil) {
        self.init(
            document: call.document, chunk: call.chunk, chunks: call.chunks, customID: call.customID,
            pipeline: pipeline, record: record)
        self.unitKey = unitKey
        headingPath = call.headingPath
        page = call.page
        reduce = call.reduce
    }
}

extension NewJob {
    /// A call job: the input as JSON, its request body as the job's bytes.
    public init(runID: Int64, key: String, call: CallInput) throws {
        try self.init(runID: runID, stage: .call, key: key, encoding: call, body: call.body)
    }
}
