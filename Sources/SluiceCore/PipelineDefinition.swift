/// A pipeline: how documents are chunked, what is asked of the model for each chunk, and where.
///
/// Loaded from `Pipelines/*.yaml`; its ``hash`` covers everything that changes a request, so a
/// changed prompt, model or parameter creates new work and never reuses a stale result.
public struct PipelineDefinition: Sendable, Codable, Hashable {
    /// One message template.
    public struct Message: Sendable, Codable, Hashable {
        /// system, user or assistant.
        public var role: String
        /// A Mustache template over the document and chunk fields.
        public var template: String

        /// Creates it from its fields.
        public init(role: String, template: String) {
            self.role = role
            self.template = template
        }
    }

    /// How documents are cut.
    public struct Chunking: Sendable, Codable, Hashable {
        /// The most tokens a chunk may have.
        public var maxTokens: Int
        /// Tokens repeated from the previous chunk.
        public var overlapTokens: Int

        /// Creates it from its fields.
        public init(maxTokens: Int, overlapTokens: Int) {
            self.maxTokens = maxTokens
            self.overlapTokens = overlapTokens
        }
    }

    /// Which files of the directory are documents.
    public struct Selection: Sendable, Codable, Hashable {
        /// Globs a file's relative path must match.
        public var include: [String]
        /// Globs that leave a file out.
        public var exclude: [String]
        /// Whether hidden files are read.
        public var hidden: Bool
        /// Files larger than this many bytes are skipped (default 256 MB).
        public var maxFileSize: Int64
        /// The most bytes one part of a document expands to: one XML file of a ZIP-based document, the
        /// text `pdftotext` writes for a PDF (nil: 64 MiB).
        public var maxArchivePartBytes: Int64?
        /// How long `pdftotext` may take for one PDF, in seconds (nil: 120).
        public var extractTimeoutSeconds: Double?
        /// Symbolic links whose target lies outside the enqueued folder are followed (nil: they are
        /// skipped with the reason). Optional so that runs recorded before it decode and hash alike.
        public var externalLinks: Bool?
        /// Whether symbolic links out of the root are followed.
        public var followsExternalLinks: Bool {
            get { externalLinks ?? false }
            set { externalLinks = newValue ? true : nil }
        }

        /// The default size cap: 256 MiB.
        public static let defaultMaxFileSize: Int64 = 256 << 20

        /// Creates it from its fields.
        public init(
            include: [String] = [], exclude: [String] = [], hidden: Bool = false,
            maxFileSize: Int64 = Selection.defaultMaxFileSize
        ) {
            self.include = include
            self.exclude = exclude
            self.hidden = hidden
            self.maxFileSize = maxFileSize
        }
    }

    /// What the model must answer with.
    public enum ResponseFormat: Sendable, Codable, Hashable {
        /// Any JSON object (`{"type": "json_object"}`); the prompt must mention JSON.
        case jsonObject
        /// JSON that matches a schema (`{"type": "json_schema", ...}`); `schema` is its JSON text.
        case jsonSchema(name: String, schema: String, strict: Bool)
    }

    /// The reduce step of a map-reduce pipeline: once every chunk of a document has succeeded, its
    /// results (in chunk order) are rendered into these messages and sent as one more call.
    public struct Reduce: Sendable, Codable, Hashable {
        /// The reduce step's messages (templates see `results`).
        public var messages: [Message]
        /// max_tokens of a reduce call.
        public var maxTokens: Int
        /// The most prompt tokens one reduce call may take; beyond it the results are reduced in groups
        /// first (recursively). Nil: the model's context less `maxTokens`.
        public var maxInputTokens: Int?

        /// Creates it from its fields.
        public init(messages: [Message], maxTokens: Int, maxInputTokens: Int? = nil) {
            self.messages = messages
            self.maxTokens = maxTokens
            self.maxInputTokens = maxInputTokens
        }
    }

    /// The pipeline's name (one run per folder and name).
    public var name: String
    /// The model name (for the tokenizer and the JSONL); the deployment decides what serves it.
    public var model: String
    /// The deployment to call, unless the command line names one.
    public var deployment: String?
    /// The messages, as Mustache templates.
    public var messages: [Message]
    /// max_tokens of a chunk's call.
    public var maxTokens: Int
    /// Send `max_completion_tokens` instead of `max_tokens` (reasoning models).
    public var useMaxCompletionTokens: Bool
    /// Sampling temperature.
    public var temperature: Double?
    /// Nucleus sampling.
    public var topP: Double?
    /// Seed for reproducible sampling.
    public var seed: Int?
    /// Choices per request.
    public var n: Int
    /// How documents are cut into chunks.
    public var chunking: Chunking
    /// Which files of the folder are documents.
    public var selection: Selection
    /// Extra template variables.
    public var variables: [String: String]
    /// JSON replies, validated; nil: text.
    public var responseFormat: ResponseFormat?
    /// How many times a reply that is not valid JSON for the format is asked again (nil: 2).
    public var outputRetries: Int?
    /// The reduce step, for map-reduce pipelines.
    public var reduce: Reduce?
    /// Where a call whose batch line failed (or whose batch expired or was cancelled) goes next, when
    /// its pool has online deployments too: `online`, or nil for a later batch.
    public var batchRetries: String?

    /// Whether calls that a batch did not answer may go to an online deployment of the pool.
    public var batchRetriesOnline: Bool { batchRetries == "online" }

    /// Retries of an invalid reply.
    public var invalidOutputRetries: Int { outputRetries ?? 2 }

    /// Creates it from its fields.
    public init(
        name: String, model: String, deployment: String? = nil, messages: [Message], maxTokens: Int,
        useMaxCompletionTokens: Bool = false, temperature: Double? = nil, topP: Double? = nil, seed: Int? = nil,
        n: Int = 1, chunking: Chunking, selection: Selection = Selection(), variables: [String: String] = [:]
    ) {
        self.name = name
        self.model = model
        self.deployment = deployment
        self.messages = messages
        self.maxTokens = maxTokens
        self.useMaxCompletionTokens = useMaxCompletionTokens
        self.temperature = temperature
        self.topP = topP
        self.seed = seed
        self.n = n
        self.chunking = chunking
        self.selection = selection
        self.variables = variables
    }
}
