import Foundation

/// A JSON Schema (the subset Azure OpenAI's structured outputs accept, and a little more), to check
/// model replies against.
///
/// Keywords: `type` (one or a list), `properties`, `required`, `additionalProperties` (true, false or
/// a schema), `items`, `enum`, `const`, `anyOf`, `allOf`, `$ref` (`#`, `#/$defs/…`, `#/definitions/…`),
/// `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum`, `minLength`, `maxLength`, `pattern`,
/// `minItems`, `maxItems`; `title`, `description`, `default`, `examples`, `format`, `$schema`, `$id`,
/// `$comment`, `strict` and `name` are annotations. Any other keyword is refused when the schema is
/// read, so a schema never silently checks less than it says.
public struct JSONSchema: Sendable, Hashable {
    /// The schema.
    public let root: JSONValue
    private let patterns: [String: SendableRegex]

    static let checked: Set<String> = [
        "type", "properties", "required", "additionalProperties", "items", "enum", "const", "anyOf", "allOf", "$ref",
        "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "pattern", "minItems",
        "maxItems", "$defs", "definitions",
    ]
    static let annotations: Set<String> = [
        "title", "description", "default", "examples", "format", "$schema", "$id", "$comment", "strict", "name",
    ]
    static let types: Set<String> = ["object", "array", "string", "number", "integer", "boolean", "null"]

    /// Reads a schema from JSON text.
    ///
    /// - Throws: ``SluiceError`` (`invalidPipeline`) naming the place of a keyword it cannot check.
    public init(text: String) throws {
        let value: JSONValue
        do {
            value = try JSONValue.parse(text)
        } catch let error as SluiceError {
            throw SluiceError(.invalidPipeline, "the JSON schema is \(error.message)", cause: error)
        }
        try self.init(value)
    }

    /// A schema from its JSON.
    ///
    /// - Throws: ``SluiceError`` when it uses what cannot be checked.
    public init(_ root: JSONValue) throws {
        self.root = root
        var patterns: [String: SendableRegex] = [:]
        try Self.check(root, at: "#", root: root, patterns: &patterns)
        self.patterns = patterns
    }

    public static func == (lhs: JSONSchema, rhs: JSONSchema) -> Bool { lhs.root == rhs.root }
    public func hash(into hasher: inout Hasher) { hasher.combine(root) }

    /// The problems of a value, each with its place (`$.parties[0].name: ...`); empty when it is valid.
    /// At most `limit` are listed.
    public func problems(_ value: JSONValue, limit: Int = 5) -> [String] {
        var problems: [String] = []
        validate(value, against: root, at: "$", problems: &problems, depth: 0)
        return Array(problems.prefix(limit))
    }

    // MARK: Reading

    private static func check(
        _ schema: JSONValue, at place: String, root: JSONValue, patterns: inout [String: SendableRegex]
    ) throws {
        if case .bool = schema { return }
        guard case .object(let members) = schema else {
            throw SluiceError(.invalidPipeline, "the JSON schema at \(place) must be an object or a boolean")
        }
        for (keyword, value) in members {
            let here = "\(place)/\(keyword)"
            guard checked.contains(keyword) || annotations.contains(keyword) else {
                throw SluiceError(
                    .invalidPipeline,
                    "the JSON schema uses '\(keyword)' at \(place), which Sluice cannot check (it checks: \(checked.sorted().joined(separator: ", ")))"
                )
            }
            switch keyword {
            case "type":
                let names: [JSONValue]
                if case .array(let list) = value { names = list } else { names = [value] }
                for name in names {
                    guard case .string(let type) = name, types.contains(type) else {
                        throw SluiceError(.invalidPipeline, "the JSON schema's type at \(here) is not a JSON type")
                    }
                }
            case "properties", "$defs", "definitions":
                guard case .object(let children) = value else {
                    throw SluiceError(.invalidPipeline, "the JSON schema's \(keyword) at \(here) must be an object")
                }
                for (name, child) in children {
                    try check(child, at: "\(here)/\(name)", root: root, patterns: &patterns)
                }
            case "items", "additionalProperties":
                try check(value, at: here, root: root, patterns: &patterns)
            case "anyOf", "allOf":
                guard case .array(let list) = value, !list.isEmpty else {
                    throw SluiceError(
                        .invalidPipeline, "the JSON schema's \(keyword) at \(here) must be a non-empty list")
                }
                for (index, child) in list.enumerated() {
                    try check(child, at: "\(here)/\(index)", root: root, patterns: &patterns)
                }
            case "required":
                guard case .array(let list) = value, list.allSatisfy({ if case .string = $0 { true } else { false } })
                else { throw SluiceError(.invalidPipeline, "the JSON schema's required at \(here) must list names") }
            case "enum":
                guard case .array = value else {
                    throw SluiceError(.invalidPipeline, "the JSON schema's enum at \(here) must be a list")
                }
            case "$ref":
                guard case .string(let reference) = value, resolve(reference, in: root) != nil else {
                    throw SluiceError(.invalidPipeline, "the JSON schema's $ref at \(here) points nowhere")
                }
            case "pattern":
                guard case .string(let pattern) = value, let regex = try? NSRegularExpression(pattern: pattern) else {
                    throw SluiceError(
                        .invalidPipeline, "the JSON schema's pattern at \(here) is not a regular expression")
                }
                patterns[pattern] = SendableRegex(regex)
            case "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "minItems",
                "maxItems":
                guard number(value) != nil else {
                    throw SluiceError(.invalidPipeline, "the JSON schema's \(keyword) at \(here) must be a number")
                }
            default: break
            }
        }
    }

    static func resolve(_ reference: String, in root: JSONValue) -> JSONValue? {
        if reference == "#" { return root }
        guard reference.hasPrefix("#/") else { return nil }
        var node = root
        for part in reference.dropFirst(2).split(separator: "/") {
            let key = part.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            guard let next = node[key] else { return nil }
            node = next
        }
        return node
    }

    private static func number(_ value: JSONValue) -> Double? {
        switch value {
        case .integer(let number): Double(number)
        case .number(let number): number
        default: nil
        }
    }

    // MARK: Checking

    private func validate(
        _ value: JSONValue, against schema: JSONValue, at place: String, problems: inout [String], depth: Int
    ) {
        guard depth < 64 else {
            problems.append("\(place): the schema nests too deeply (a $ref loop?)")
            return
        }
        if case .bool(let allowed) = schema {
            if !allowed { problems.append("\(place): not allowed here") }
            return
        }
        if let reference = schema["$ref"], case .string(let path) = reference,
            let target = Self.resolve(path, in: root)
        {
            validate(value, against: target, at: place, problems: &problems, depth: depth + 1)
        }
        if let type = schema["type"] {
            let allowed: [String]
            if case .array(let list) = type {
                allowed = list.compactMap { if case .string(let name) = $0 { name } else { nil } }
            } else if case .string(let name) = type {
                allowed = [name]
            } else {
                allowed = []
            }
            let actual = value.typeName
            let matches = allowed.contains(actual) || (actual == "integer" && allowed.contains("number"))
            if !matches {
                problems.append("\(place): expected \(allowed.joined(separator: " or ")), got \(describe(value))")
                return
            }
        }
        if let options = schema["enum"], case .array(let list) = options, !list.contains(where: { equal($0, value) }) {
            problems.append("\(place): \(describe(value)) is not one of \(list.map(\.text).joined(separator: ", "))")
        }
        if let constant = schema["const"], !equal(constant, value) {
            problems.append("\(place): must be \(constant.text), got \(describe(value))")
        }
        if let options = schema["anyOf"], case .array(let list) = options {
            let matched = list.contains { option in
                var trial: [String] = []
                validate(value, against: option, at: place, problems: &trial, depth: depth + 1)
                return trial.isEmpty
            }
            if !matched { problems.append("\(place): matches none of the \(list.count) anyOf alternatives") }
        }
        if let parts = schema["allOf"], case .array(let list) = parts {
            for part in list { validate(value, against: part, at: place, problems: &problems, depth: depth + 1) }
        }
        switch value {
        case .object(let members):
            let properties: [String: JSONValue]
            if case .object(let declared)? = schema["properties"] { properties = declared } else { properties = [:] }
            if case .array(let required)? = schema["required"] {
                for case .string(let name) in required where members[name] == nil {
                    problems.append("\(place): the required field '\(name)' is missing")
                }
            }
            for name in members.keys.sorted() {
                guard let member = members[name] else { continue }
                let child = "\(place).\(name)"
                if let property = properties[name] {
                    validate(member, against: property, at: child, problems: &problems, depth: depth + 1)
                } else if let additional = schema["additionalProperties"] {
                    if case .bool(false) = additional {
                        problems.append("\(place): the field '\(name)' is not in the schema")
                    } else {
                        validate(member, against: additional, at: child, problems: &problems, depth: depth + 1)
                    }
                }
            }
        case .array(let items):
            if let bound = schema["minItems"].flatMap(Self.number), Double(items.count) < bound {
                problems.append("\(place): \(items.count) items, at least \(Int(bound)) required")
            }
            if let bound = schema["maxItems"].flatMap(Self.number), Double(items.count) > bound {
                problems.append("\(place): \(items.count) items, at most \(Int(bound)) allowed")
            }
            if let item = schema["items"] {
                for (index, element) in items.enumerated() {
                    validate(element, against: item, at: "\(place)[\(index)]", problems: &problems, depth: depth + 1)
                }
            }
        case .string(let text):
            let length = text.unicodeScalars.count
            if let bound = schema["minLength"].flatMap(Self.number), Double(length) < bound {
                problems.append("\(place): \(length) characters, at least \(Int(bound)) required")
            }
            if let bound = schema["maxLength"].flatMap(Self.number), Double(length) > bound {
                problems.append("\(place): \(length) characters, at most \(Int(bound)) allowed")
            }
            if case .string(let pattern)? = schema["pattern"], let regex = patterns[pattern]?.regex,
                regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) == nil
            {
                problems.append("\(place): \(describe(value)) does not match the pattern \(pattern)")
            }
        case .integer, .number:
            guard let number = Self.number(value) else { break }
            if let bound = schema["minimum"].flatMap(Self.number), number < bound {
                problems.append("\(place): \(value.text) is below the minimum \(Self.plain(bound))")
            }
            if let bound = schema["maximum"].flatMap(Self.number), number > bound {
                problems.append("\(place): \(value.text) is above the maximum \(Self.plain(bound))")
            }
            if let bound = schema["exclusiveMinimum"].flatMap(Self.number), number <= bound {
                problems.append("\(place): \(value.text) must be above \(Self.plain(bound))")
            }
            if let bound = schema["exclusiveMaximum"].flatMap(Self.number), number >= bound {
                problems.append("\(place): \(value.text) must be below \(Self.plain(bound))")
            }
        default: break
        }
    }

    private static func plain(_ number: Double) -> String {
        number == number.rounded() && abs(number) < 1e15 ? String(Int(number)) : String(number)
    }

    /// JSON equality, where 1 and 1.0 are equal.
    private func equal(_ lhs: JSONValue, _ rhs: JSONValue) -> Bool {
        if let left = Self.number(lhs), let right = Self.number(rhs) { return left == right }
        return lhs == rhs
    }

    private func describe(_ value: JSONValue) -> String {
        switch value {
        case .string(let text): text.count > 40 ? "a string \"\(text.prefix(40))…\"" : "\"\(text)\""
        case .object: "an object"
        case .array: "an array"
        default: "\(value.typeName) \(value.text)"
        }
    }
}

/// A compiled regular expression, immutable once made.
struct SendableRegex: @unchecked Sendable {
    // Unchecked: NSRegularExpression is immutable and documented as thread-safe.
    let regex: NSRegularExpression
    init(_ regex: NSRegularExpression) { self.regex = regex }
}
