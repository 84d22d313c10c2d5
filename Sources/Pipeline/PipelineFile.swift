import Foundation
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
/// files: {include: ["**/*.md"], exclude: [], hidden: false}
/// variables: {language: English}
/// messages:
///   - role: system
///     content: You summarize documents.
///   - role: user
///     content: "{{chunk.text}}"
/// ```
/// An error names the file, the line and the field.
public enum PipelineFile {
    public static func load(_ path: String) throws -> PipelineDefinition {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SluiceError(.notFound, "\(path): cannot read the pipeline file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw SluiceError(.invalidPipeline, "\(path): not UTF-8 text")
        }
        let defaultName = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        return try parse(text, file: path, defaultName: defaultName)
    }

    public static func parse(_ text: String, file: String, defaultName: String) throws -> PipelineDefinition {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw SluiceError(.invalidPipeline, "\(file): not valid YAML: \(error)")
        }
        guard let root = node, let mapping = root.mapping else {
            throw SluiceError(.invalidPipeline, "\(file): expected a mapping of pipeline fields")
        }
        let reader = FieldReader(file: file, mapping: mapping, path: "")
        try reader.rejectUnknown([
            "name", "model", "deployment", "max_tokens", "max_completion_tokens", "temperature", "top_p", "seed", "n",
            "chunking", "files", "variables", "messages",
        ])
        let model = try reader.string("model", required: true) ?? ""
        let maxTokens = try reader.int("max_tokens", minimum: 1)
        let maxCompletion = try reader.int("max_completion_tokens", minimum: 1)
        if maxTokens != nil && maxCompletion != nil {
            throw reader.error("max_completion_tokens", "give max_tokens or max_completion_tokens, not both")
        }
        guard let limit = maxTokens ?? maxCompletion else {
            throw SluiceError(
                .invalidPipeline,
                "\(file): field 'max_tokens' (or 'max_completion_tokens') is required: it sets the quota charge")
        }
        let chunking = try reader.mapping("chunking")
        let maxChunk = try chunking?.int("max_tokens", minimum: 16) ?? 1_000
        let overlap = try chunking?.int("overlap", minimum: 0) ?? 0
        try chunking?.rejectUnknown(["max_tokens", "overlap"])
        if overlap * 2 > maxChunk {
            throw (chunking ?? reader).error("overlap", "must be at most half of max_tokens (\(maxChunk))")
        }
        let files = try reader.mapping("files")
        try files?.rejectUnknown(["include", "exclude", "hidden", "max_size"])
        let selection = PipelineDefinition.Selection(
            include: try files?.strings("include") ?? [], exclude: try files?.strings("exclude") ?? [],
            hidden: try files?.bool("hidden") ?? false,
            maxFileSize: try files?.byteSize("max_size") ?? PipelineDefinition.Selection.defaultMaxFileSize)
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
        return PipelineDefinition(
            name: try reader.string("name") ?? defaultName, model: model, deployment: try reader.string("deployment"),
            messages: messages, maxTokens: limit, useMaxCompletionTokens: maxCompletion != nil,
            temperature: try reader.double("temperature"), topP: try reader.double("top_p"),
            seed: try reader.int("seed"),
            n: try reader.int("n", minimum: 1) ?? 1, chunking: .init(maxTokens: maxChunk, overlapTokens: overlap),
            selection: selection, variables: variables)
    }
}

/// Typed access to a YAML mapping with errors that name file, line and field.
struct FieldReader {
    let file: String
    let mapping: Node.Mapping
    let path: String
    var code: SluiceError.Code = .invalidPipeline

    func node(_ key: String) -> Node? { mapping[Node(key)] }

    func error(_ key: String, _ problem: String) -> SluiceError {
        let line = node(key)?.mark?.line ?? mapping.mark?.line
        return SluiceError(code, "\(file)\(line.map { ":\($0)" } ?? ""): field '\(path)\(key)' \(problem)")
    }

    func rejectUnknown(_ known: Set<String>) throws {
        for key in mapping.keys {
            guard let name = key.string, known.contains(name) else {
                let line = key.mark?.line
                throw SluiceError(
                    code,
                    "\(file)\(line.map { ":\($0)" } ?? ""): unknown field '\(path)\(key.string ?? "?")' (known: \(known.sorted().joined(separator: ", ")))"
                )
            }
        }
    }

    func string(_ key: String, required: Bool = false) throws -> String? {
        guard let node = node(key) else {
            if required { throw SluiceError(code, "\(file): field '\(path)\(key)' is required") }
            return nil
        }
        guard node.scalar != nil, let value = node.string, !value.isEmpty else {
            throw error(key, "must be a non-empty string")
        }
        return value
    }

    func int(_ key: String, minimum: Int = .min) throws -> Int? {
        guard let node = node(key) else { return nil }
        guard let value = node.int else { throw error(key, "must be a whole number") }
        guard value >= minimum else { throw error(key, "must be at least \(minimum)") }
        return value
    }

    func double(_ key: String) throws -> Double? {
        guard let node = node(key) else { return nil }
        guard let value = node.float else { throw error(key, "must be a number") }
        return value
    }

    func bool(_ key: String) throws -> Bool? {
        guard let node = node(key) else { return nil }
        guard let value = node.bool else { throw error(key, "must be true or false") }
        return value
    }

    /// A size in bytes: a whole number, or a number with a unit (`500KB`, `64 MB`, `1GiB`).
    func byteSize(_ key: String) throws -> Int64? {
        guard let node = node(key) else { return nil }
        guard let text = node.string, let bytes = ByteSize.parse(text) else {
            throw error(key, "must be a size in bytes, e.g. 268435456 or \"256MB\"")
        }
        return bytes
    }

    func strings(_ key: String) throws -> [String]? {
        guard let node = node(key) else { return nil }
        guard let sequence = node.sequence else { throw error(key, "must be a list of strings") }
        return try sequence.map { item in
            guard let value = item.string else { throw error(key, "must be a list of strings") }
            return value
        }
    }

    func mapping(_ key: String) throws -> FieldReader? {
        guard let node = node(key) else { return nil }
        guard let mapping = node.mapping else { throw error(key, "must be a mapping") }
        return FieldReader(file: file, mapping: mapping, path: path + key + ".", code: code)
    }

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
