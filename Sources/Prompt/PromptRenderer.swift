import Crypto
import Foundation
import Mustache
import SluiceCore
import Tokenizer

/// Renders a pipeline's message templates for a chunk into a chat completion request, and computes
/// the request's quota charge the way Azure does at arrival: prompt estimate + max_tokens, × n.
public struct PromptRenderer: Sendable {
    public let pipeline: PipelineDefinition
    public let pipelineHash: String
    public let encoding: BytePairEncoding
    private let templates: [(role: String, template: MustacheTemplate)]

    /// Compiles the pipeline's templates.
    ///
    /// - Throws: ``SluiceError`` naming the message whose template does not parse.
    public init(pipeline: PipelineDefinition, pipelineHash: String) throws {
        self.pipeline = pipeline
        self.pipelineHash = pipelineHash
        self.encoding = .encoding(ModelEncoding.resolve(model: pipeline.model).encoding)
        var templates: [(String, MustacheTemplate)] = []
        for (index, message) in pipeline.messages.enumerated() {
            do {
                // Prompts are plain text: no HTML escaping of {{values}}.
                templates.append(
                    (message.role, try MustacheTemplate(string: "{{% CONTENT_TYPE: TEXT}}" + message.template)))
            } catch {
                throw SluiceError(
                    .invalidPipeline,
                    "pipeline '\(pipeline.name)': message \(index + 1) (\(message.role)): bad template: \(error)")
            }
        }
        self.templates = templates
    }

    /// The template variables of a chunk.
    public func context(for input: PromptInput) -> [String: Any] {
        let name = (input.document.path as NSString).lastPathComponent
        var context: [String: Any] = [
            "document": [
                "path": input.document.path, "name": name, "sha256": input.document.sha256,
                "size": input.document.size,
            ] as [String: Any],
            "chunk": [
                "index": input.chunk, "number": input.chunk + 1, "count": input.chunks, "text": input.text,
                "tokens": input.tokens, "first": input.chunk == 0, "last": input.chunk + 1 == input.chunks,
                "heading_path": (input.headingPath ?? []).joined(separator: " > "), "headings": input.headingPath ?? [],
                "page": input.page ?? 0,
            ] as [String: Any],
            "pipeline": ["name": pipeline.name, "model": pipeline.model],
        ]
        for (key, value) in pipeline.variables where context[key] == nil { context[key] = value }
        return context
    }

    /// The call job input for a chunk.
    public func render(_ input: PromptInput) throws -> CallInput {
        let context = context(for: input)
        let messages = templates.map { ChatMessage(role: $0.role, content: $0.template.render(context)) }
        let promptTokens = encoding.estimatePromptTokens(messages, format: .forModel(pipeline.model))
        // The body is written by hand: it is built for every chunk, and JSONSerialization is slow on Linux.
        var body = "{\"messages\":["
        for (index, message) in messages.enumerated() {
            if index > 0 { body += "," }
            body +=
                "{\"content\":" + JSONText.quoted(message.content) + ",\"role\":" + JSONText.quoted(message.role) + "}"
        }
        body +=
            "],\"" + (pipeline.useMaxCompletionTokens ? "max_completion_tokens" : "max_tokens")
            + "\":\(pipeline.maxTokens)"
        if pipeline.n != 1 { body += ",\"n\":\(pipeline.n)" }
        if let seed = pipeline.seed { body += ",\"seed\":\(seed)" }
        if let temperature = pipeline.temperature { body += ",\"temperature\":\(temperature)" }
        if let topP = pipeline.topP { body += ",\"top_p\":\(topP)" }
        body += "}"
        let unitKey = Self.unitKey(
            documentSHA256: input.document.sha256, chunk: input.chunk, pipelineHash: pipelineHash)
        var call = CallInput(
            document: input.document, chunk: input.chunk, chunks: input.chunks,
            customID: "sluice-" + unitKey.prefix(32), unitKey: unitKey, body: body,
            promptTokens: promptTokens, charge: (promptTokens + pipeline.maxTokens) * max(1, pipeline.n))
        call.headingPath = input.headingPath
        call.page = input.page
        return call
    }

    /// The identity of a unit of work: SHA-256 of (document hash, chunk index, pipeline hash).
    public static func unitKey(documentSHA256: String, chunk: Int, pipelineHash: String) -> String {
        let digest = SHA256.hash(data: Data("\(documentSHA256)|\(chunk)|\(pipelineHash)".utf8))
        return digest.map { String(format: "%02x", $0) }.joined()
    }

    /// The hash of everything in a pipeline that changes a request or its chunks: templates, model,
    /// parameters, chunking and variables — not its name, file selection or deployment.
    public static func hash(_ pipeline: PipelineDefinition) throws -> String {
        var identity = pipeline
        identity.name = ""
        identity.deployment = nil
        identity.selection = .init()
        let data = try JSONEncoder.sluice.encode(identity)
        return SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }
}
