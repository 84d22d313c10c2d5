import Catalog
import Foundation
import PromptRendering
import SluiceCore
import Yams

/// Reads pipeline definitions from YAML files (`Pipelines/*.yaml`).
///
/// ```yaml
/// name: summarize
/// model: gpt-4o-mini
/// deployment: sim            # optional; --deployment overrides
/// max_tokens: 300            # or max_completion_tokens for reasoning models
/// temperature: 0.2
/// chunking: {max_tokens: 800, overlap: 80}
/// files: {include: ["**/*.md"], exclude: [], hidden: false, max_part_size: 64MiB, extract_timeout: 120}
/// variables: {language: English}
/// messages:
///   - role: system
///     content: You summarize documents.
///   - role: user
///     content: "{{chunk.text}}"
/// response_format:           # optional: json_object, or json_schema with the schema inline or in a file
///   type: json_schema
///   name: facts
///   schema_file: schemas/facts.json   # relative to the pipeline file; or `schema:` inline
/// output_retries: 2          # an invalid JSON reply is asked again this many times
/// batch_retries: online      # calls a batch did not answer go online (pool permitting); default: batch
/// reduce:                    # optional: one more call per document over its chunk results
///   max_tokens: 400
///   messages:
///     - role: user
///       content: "{{#results}}{{text}}\n{{/results}}"
/// ```
/// An error names the file, the line and the field.
public enum PipelineFile {
    /// Reads and checks a pipeline file against the model catalog (see ``check(_:file:reader:catalog:)``).
    public static func load(_ path: String, catalog: ModelCatalog = .builtIn) throws -> PipelineDefinition {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SluiceError(.notFound, "\(path): cannot read the pipeline file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw SluiceError(.invalidPipeline, "\(path): not UTF-8 text")
        }
        let defaultName = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        return try parse(text, file: path, defaultName: defaultName, catalog: catalog)
    }

    /// Reads and checks a pipeline definition's text (`file` names it in errors), against the catalog.
    public static func parse(
        _ text: String, file: String, defaultName: String, catalog: ModelCatalog = .builtIn
    ) throws -> PipelineDefinition {
        let node = try FieldReader.compose(text, file: file, code: .invalidPipeline)
        guard let root = node, let mapping = root.mapping else {
            throw SluiceError(.invalidPipeline, "\(file): expected a mapping of pipeline fields")
        }
        let reader = FieldReader(file: file, mapping: mapping, path: "")
        try reader.rejectUnknown([
            "name", "model", "deployment", "max_tokens", "max_completion_tokens", "temperature", "top_p", "seed", "n",
            "chunking", "files", "variables", "messages", "response_format", "output_retries", "reduce",
            "batch_retries",
        ])
        let model = try reader.string("model", required: true) ?? ""
        let maxTokens = try reader.int("max_tokens", minimum: 1, maximum: 10_000_000)
        let maxCompletion = try reader.int("max_completion_tokens", minimum: 1, maximum: 10_000_000)
        if maxTokens != nil && maxCompletion != nil {
            throw reader.error("max_completion_tokens", "give max_tokens or max_completion_tokens, not both")
        }
        guard let limit = maxTokens ?? maxCompletion else {
            throw SluiceError(
                .invalidPipeline,
                "\(file): field 'max_tokens' (or 'max_completion_tokens') is required: it sets the quota charge")
        }
        let chunking = try reader.mapping("chunking")
        let maxChunk = try chunking?.int("max_tokens", minimum: 16, maximum: 10_000_000) ?? 1_000
        let overlap = try chunking?.int("overlap", minimum: 0, maximum: 10_000_000) ?? 0
        try chunking?.rejectUnknown(["max_tokens", "overlap"])
        if overlap * 2 > maxChunk {
            throw (chunking ?? reader).error("overlap", "must be at most half of max_tokens (\(maxChunk))")
        }
        let files = try reader.mapping("files")
        try files?.rejectUnknown(["include", "exclude", "hidden", "max_size", "max_part_size", "extract_timeout"])
        var selection = PipelineDefinition.Selection(
            include: try files?.strings("include") ?? [], exclude: try files?.strings("exclude") ?? [],
            hidden: try files?.bool("hidden") ?? false,
            maxFileSize: try files?.byteSize("max_size") ?? PipelineDefinition.Selection.defaultMaxFileSize)
        selection.maxArchivePartBytes = try files?.byteSize("max_part_size")
        selection.extractTimeoutSeconds = try files?.double("extract_timeout", in: 0.1...86_400)
        var variables: [String: String] = [:]
        if let variableMapping = try reader.mapping("variables") {
            for (key, value) in variableMapping.mapping {
                guard let name = key.string, let text = value.string else {
                    throw variableMapping.error(key.string ?? "?", "must be a string")
                }
                variables[name] = text
            }
        }
        let messages = try reader.messages("messages")
        var definition = PipelineDefinition(
            name: try reader.string("name") ?? defaultName, model: model, deployment: try reader.string("deployment"),
            messages: messages, maxTokens: limit, useMaxCompletionTokens: maxCompletion != nil,
            temperature: try reader.double("temperature", in: 0...2), topP: try reader.double("top_p", in: 0...1),
            seed: try reader.int("seed", maximum: .max),
            n: try reader.int("n", minimum: 1, maximum: 128) ?? 1,
            chunking: .init(maxTokens: maxChunk, overlapTokens: overlap),
            selection: selection, variables: variables)
        definition.responseFormat = try responseFormat(reader, file: file)
        definition.outputRetries = try reader.int("output_retries", minimum: 0, maximum: 100)
        if definition.outputRetries != nil && definition.responseFormat == nil {
            throw reader.error("output_retries", "needs a response_format to check replies against")
        }
        switch try reader.string("batch_retries") {
        case nil, "batch": break
        case "online": definition.batchRetries = "online"
        default: throw reader.error("batch_retries", "must be batch or online")
        }
        if let reduce = try reader.mapping("reduce") {
            try reduce.rejectUnknown(["messages", "max_tokens", "max_input_tokens"])
            guard let reduceTokens = try reduce.int("max_tokens", minimum: 1, maximum: 10_000_000) else {
                throw SluiceError(.invalidPipeline, "\(file): field 'reduce.max_tokens' is required")
            }
            definition.reduce = .init(
                messages: try reduce.messages("messages"), maxTokens: reduceTokens,
                maxInputTokens: try reduce.int("max_input_tokens", minimum: 64, maximum: 10_000_000))
        }
        try check(definition, file: file, reader: reader, catalog: catalog)
        return definition
    }

    /// The `response_format` field: `json_object`, or `json_schema` with `schema` or `schema_file`.
    private static func responseFormat(_ reader: FieldReader, file: String) throws
        -> PipelineDefinition.ResponseFormat?
    {
        guard let node = reader.node("response_format") else { return nil }
        if let type = node.string, node.scalar != nil {
            guard type == "json_object" else {
                throw reader.error("response_format", "must be json_object, or a mapping with type: json_schema")
            }
            return .jsonObject
        }
        guard let format = try reader.mapping("response_format") else { return nil }
        try format.rejectUnknown(["type", "name", "strict", "schema", "schema_file"])
        switch try format.string("type", required: true) {
        case "json_object":
            return .jsonObject
        case "json_schema":
            let schemaNode: Node
            var place = "response_format.schema"
            if let inline = format.node("schema") {
                guard inline.mapping != nil else { throw format.error("schema", "must be a mapping (a JSON schema)") }
                schemaNode = inline
            } else if let path = try format.string("schema_file") {
                let base = (file as NSString).deletingLastPathComponent
                let resolved = path.hasPrefix("/") ? path : (base as NSString).appendingPathComponent(path)
                guard let data = FileManager.default.contents(atPath: resolved),
                    let text = String(data: data, encoding: .utf8)
                else { throw format.error("schema_file", "names \(resolved), which cannot be read") }
                // JSON is YAML: reading it as YAML keeps the order of the properties, which the model follows.
                guard let parsed = try FieldReader.compose(text, file: resolved, code: .invalidPipeline),
                    parsed.mapping != nil
                else {
                    throw format.error("schema_file", "names \(resolved), which is not a JSON object")
                }
                schemaNode = parsed
                place = resolved
            } else {
                throw format.error("type", "json_schema needs 'schema' (inline) or 'schema_file'")
            }
            let text = OrderedJSON.text(schemaNode)
            do {
                _ = try JSONSchema(text: text)
            } catch let error as SluiceError {
                throw SluiceError(.invalidPipeline, "\(file): \(place): \(error.message)", cause: error)
            }
            let name = try format.string("name") ?? "output"
            guard name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }), name.count <= 64 else {
                throw format.error("name", "must be letters, digits, _ or - (at most 64)")
            }
            return .jsonSchema(name: name, schema: text, strict: try format.bool("strict") ?? true)
        default:
            throw format.error("type", "must be json_object or json_schema")
        }
    }

    /// Checks a pipeline against what the catalog knows of its model, before anything is enqueued or
    /// paid for: max_tokens within the model's output limit, reasoning models given
    /// max_completion_tokens, and the largest chunk's prompt (the messages around it plus a full chunk)
    /// plus max_tokens within the model's context — an error says by how much it is over.
    ///
    /// Each chunk's exact prompt is checked again when it is rendered (no chunk is ever sent that cannot fit).
    static func check(_ definition: PipelineDefinition, file: String, reader: FieldReader, catalog: ModelCatalog)
        throws
    {
        guard let facts = catalog.facts(for: definition.model) else { return }
        let field = definition.useMaxCompletionTokens ? "max_completion_tokens" : "max_tokens"
        if definition.maxTokens > facts.maxOutputTokens {
            throw reader.error(
                field, "is \(definition.maxTokens), above \(facts.name)'s output limit of \(facts.maxOutputTokens)")
        }
        if facts.reasoning && !definition.useMaxCompletionTokens {
            throw reader.error(
                "max_tokens",
                "must be max_completion_tokens for \(facts.name), a reasoning model (it covers reasoning tokens)")
        }
        let overhead = try PromptRenderer(pipeline: definition, pipelineHash: "").overheadTokens(
            documentPath: String(repeating: "x", count: 64))
        let worst = overhead + definition.chunking.maxTokens + definition.maxTokens
        if worst > facts.contextWindow {
            throw SluiceError(
                .invalidPipeline,
                "\(file): a full chunk does not fit \(facts.name)'s context of \(facts.contextWindow) tokens: the messages (\(overhead)) + chunking.max_tokens (\(definition.chunking.maxTokens)) + \(field) (\(definition.maxTokens)) = \(worst), \(worst - facts.contextWindow) tokens over; lower chunking.max_tokens or \(field)"
            )
        }
        if let reduce = definition.reduce, reduce.maxTokens > facts.maxOutputTokens {
            throw reader.error(
                "reduce",
                "max_tokens \(reduce.maxTokens) is above \(facts.name)'s output limit of \(facts.maxOutputTokens)")
        }
    }
}

/// JSON text of a YAML node, keeping the order of mappings.
enum OrderedJSON {
    static func text(_ node: Node) -> String {
        switch node {
        case .mapping(let mapping):
            return "{"
                + mapping.map { key, value in JSONText.quoted(key.string ?? "") + ":" + text(value) }.joined(
                    separator: ",") + "}"
        case .sequence(let sequence):
            return "[" + sequence.map(text).joined(separator: ",") + "]"
        case .scalar(let scalar):
            if scalar.style == .plain || scalar.style == .any {
                if node.null != nil { return "null" }
                if let bool = node.bool { return bool ? "true" : "false" }
                if let int = node.int { return String(int) }
                if let number = node.float, number.isFinite { return String(number) }
            }
            return JSONText.quoted(scalar.string)
        case .alias:
            return "null"
        }
    }
}

extension FieldReader {
    func messages(_ key: String) throws -> [PipelineDefinition.Message] {
        guard let node = node(key) else { throw SluiceError(.invalidPipeline, "\(file): field 'messages' is required") }
        guard let sequence = node.sequence, !sequence.isEmpty else {
            throw error(key, "must be a non-empty list of messages")
        }
        return try sequence.enumerated().map { index, item in
            guard let mapping = item.mapping else {
                throw error(key, "item \(index + 1) must be a mapping with role and content")
            }
            let message = FieldReader(file: file, mapping: mapping, path: "\(key)[\(index)].")
            try message.rejectUnknown(["role", "content"])
            let role = try message.string("role", required: true) ?? "user"
            guard ["system", "developer", "user", "assistant"].contains(role) else {
                throw message.error("role", "must be system, developer, user or assistant")
            }
            return PipelineDefinition.Message(role: role, template: try message.string("content", required: true) ?? "")
        }
    }
}
