import Crypto
import Foundation
import Mustache
import SluiceCore
import Tokenizer

/// Renders a pipeline's message templates for a chunk into a chat completion request, and computes
/// the request's quota charge the way Azure does at arrival: prompt estimate + max_tokens, × n.
package struct PromptRenderer: Sendable {
    /// The pipeline whose templates it renders.
    package let pipeline: PipelineDefinition
    /// The pipeline's identity, part of every unit key.
    package let pipelineHash: String
    /// The model's tokenizer, for Azure's prompt estimate.
    package let encoding: BytePairEncoding
    private let templates: [(role: String, template: MustacheTemplate)]
    private let reduceTemplates: [(role: String, template: MustacheTemplate)]

    /// Compiles the pipeline's templates.
    ///
    /// - Throws: ``SluiceError`` naming the message whose template does not parse.
    package init(pipeline: PipelineDefinition, pipelineHash: String) throws {
        self.pipeline = pipeline
        self.pipelineHash = pipelineHash
        self.encoding = .encoding(ModelEncoding.resolve(model: pipeline.model).encoding)
        func compile(_ messages: [PipelineDefinition.Message], _ place: String) throws -> [(String, MustacheTemplate)] {
            try messages.enumerated().map { index, message in
                do {
                    // Prompts are plain text: no HTML escaping of {{values}}.
                    return (message.role, try MustacheTemplate(string: "{{% CONTENT_TYPE: TEXT}}" + message.template))
                } catch {
                    throw SluiceError(
                        .invalidPipeline,
                        "pipeline '\(pipeline.name)': \(place)message \(index + 1) (\(message.role)): bad template: \(error)"
                    )
                }
            }
        }
        templates = try compile(pipeline.messages, "")
        reduceTemplates = try compile(pipeline.reduce?.messages ?? [], "reduce ")
    }

    /// The template variables of a chunk.
    package func context(for input: PromptInput) -> [String: Any] {
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
    package func render(_ input: PromptInput) throws -> CallInput {
        let (body, promptTokens) = request(templates, context: context(for: input), maxTokens: pipeline.maxTokens)
        let unitKey = Self.unitKey(
            documentSHA256: input.document.sha256, chunk: input.chunk, pipelineHash: pipelineHash)
        var call = CallInput(
            document: input.document, chunk: input.chunk, chunks: input.chunks,
            customID: "sluice-" + unitKey.prefix(32), unitKey: unitKey, body: Data(body.utf8),
            promptTokens: promptTokens, charge: (promptTokens + pipeline.maxTokens) * max(1, pipeline.n))
        call.headingPath = input.headingPath
        call.page = input.page
        return call
    }

    /// The prompt tokens of the messages around a chunk: rendered with an empty chunk text.
    package func overheadTokens(documentPath: String) -> Int {
        let input = PromptInput(
            document: DocumentRef(path: documentPath, sha256: String(repeating: "0", count: 64), size: 0, mtime: 0),
            chunk: 0, chunks: 1, text: "", tokens: 0)
        return request(templates, context: context(for: input), maxTokens: pipeline.maxTokens).promptTokens
    }

    /// A reduce call over some results of a document (`parts`, in order).
    package func renderReduce(
        document: DocumentRef, chunks: Int, parts: [ReducePart], step: ReduceStep
    ) -> CallInput {
        let maxTokens = pipeline.reduce?.maxTokens ?? pipeline.maxTokens
        let name = (document.path as NSString).lastPathComponent
        var context: [String: Any] = [
            "document": [
                "path": document.path, "name": name, "sha256": document.sha256, "size": document.size, "chunks": chunks,
            ] as [String: Any],
            "results": parts.map { ["index": $0.index, "number": $0.index + 1, "text": $0.text] as [String: Any] },
            "reduce": [
                "level": step.level, "group": step.group, "groups": step.groups, "final": step.final,
                "parts": parts.count,
            ] as [String: Any],
            "pipeline": ["name": pipeline.name, "model": pipeline.model],
        ]
        for (key, value) in pipeline.variables where context[key] == nil { context[key] = value }
        let (body, promptTokens) = request(reduceTemplates, context: context, maxTokens: maxTokens)
        let unitKey = Self.unitKey(
            documentSHA256: document.sha256, unit: "reduce.\(step.level).\(step.group)", pipelineHash: pipelineHash)
        var call = CallInput(
            document: document, chunk: step.group, chunks: chunks, customID: "sluice-" + unitKey.prefix(32),
            unitKey: unitKey, body: Data(body.utf8), promptTokens: promptTokens,
            charge: (promptTokens + maxTokens) * max(1, pipeline.n))
        call.reduce = step
        return call
    }

    /// The request body (without `model`) and its prompt tokens, as Azure estimates them.
    private func request(
        _ templates: [(role: String, template: MustacheTemplate)], context: [String: Any], maxTokens: Int
    )
        -> (body: String, promptTokens: Int)
    {
        let messages = templates.map { ChatMessage(role: $0.role, content: $0.template.render(context)) }
        let promptTokens = encoding.estimatePromptTokens(messages, format: .forModel(pipeline.model))
        // The body is written by hand: it is built for every chunk, and JSONSerialization is slow on Linux.
        var body = "{\"messages\":["
        for (index, message) in messages.enumerated() {
            if index > 0 { body += "," }
            body +=
                "{\"content\":" + JSONText.quoted(message.content) + ",\"role\":" + JSONText.quoted(message.role) + "}"
        }
        body += "],\"" + (pipeline.useMaxCompletionTokens ? "max_completion_tokens" : "max_tokens") + "\":\(maxTokens)"
        if pipeline.n != 1 { body += ",\"n\":\(pipeline.n)" }
        switch pipeline.responseFormat {
        case .jsonObject?:
            body += ",\"response_format\":{\"type\":\"json_object\"}"
        case .jsonSchema(let name, let schema, let strict)?:
            body +=
                ",\"response_format\":{\"json_schema\":{\"name\":" + JSONText.quoted(name) + ",\"schema\":" + schema
                + ",\"strict\":\(strict)},\"type\":\"json_schema\"}"
        case nil: break
        }
        if let seed = pipeline.seed { body += ",\"seed\":\(seed)" }
        if let temperature = pipeline.temperature { body += ",\"temperature\":\(temperature)" }
        if let topP = pipeline.topP { body += ",\"top_p\":\(topP)" }
        body += "}"
        return (body, promptTokens)
    }

    /// The identity of a unit of work: SHA-256 of (document hash, chunk index, pipeline hash).
    package static func unitKey(documentSHA256: String, chunk: Int, pipelineHash: String) -> String {
        unitKey(documentSHA256: documentSHA256, unit: String(chunk), pipelineHash: pipelineHash)
    }

    /// The identity of a unit of work: SHA-256 of (document hash, unit, pipeline hash).
    package static func unitKey(documentSHA256: String, unit: String, pipelineHash: String) -> String {
        let digest = SHA256.hash(data: Data("\(documentSHA256)|\(unit)|\(pipelineHash)".utf8))
        return Hex.lowercase(digest)
    }

    /// The hash of everything in a pipeline that changes a request or its chunks: templates, model,
    /// parameters, chunking and variables — not its name, file selection or deployment.
    package static func hash(_ pipeline: PipelineDefinition) throws -> String {
        var identity = pipeline
        identity.name = ""
        identity.deployment = nil
        identity.selection = .init()
        let data = try JSONEncoder.sluice.encode(identity)
        return Hex.lowercase(SHA256.hash(data: data))
    }
}
