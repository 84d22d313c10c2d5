import Foundation
import Tokenizer

/// Replies to requests with a `response_format`: a JSON object (json_object), or an instance of the
/// request's JSON schema built from the prompt's words, as a model in strict mode would answer.
/// On request (a fault trigger) the reply breaks the format instead.
enum StructuredReply {
    /// The content, its tokens and finish reason; nil when the request asks for plain text.
    static func make(
        format: [String: Any]?, prompt: String, breaking: Bool, encoding: BytePairEncoding, maxTokens: Int
    ) -> (String, Int, String)? {
        guard let format, let type = format["type"] as? String, type != "text" else { return nil }
        let words = prompt.split(whereSeparator: \.isWhitespace).prefix(8).map(String.init)
        var generator = Generator(words: words, seed: prompt.utf8.reduce(5381) { ($0 &* 33) &+ UInt64($1) })
        var value: Any
        if type == "json_schema", let wrapper = format["json_schema"] as? [String: Any],
            let schema = wrapper["schema"] as? [String: Any]
        {
            generator.root = schema
            value = generator.instance(of: schema, depth: 0)
            if breaking { value = broken(value, schema: schema) }
        } else {
            value = ["summary": "Echo: " + words.joined(separator: " ")]
        }
        var text =
            (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes]))
            .map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        if breaking && type == "json_object" { text = "Sure! Here is the JSON you asked for: " + text }
        return SimulatorEngine.limited(text, maxTokens: maxTokens, encoding: encoding)
    }

    /// The instance with its first required field removed (or, with none, a field of the wrong type).
    private static func broken(_ value: Any, schema: [String: Any]) -> Any {
        guard var object = value as? [String: Any] else { return ["unexpected": true] }
        if let required = (schema["required"] as? [String])?.sorted(), let first = required.first {
            object.removeValue(forKey: first)
        } else if let key = object.keys.sorted().first {
            object[key] = ["wrong": "type"]
        } else {
            return "not an object"
        }
        return object
    }

    struct Generator {
        let words: [String]
        var seed: UInt64
        var root: [String: Any] = [:]

        init(words: [String], seed: UInt64) {
            self.words = words
            self.seed = seed
        }

        mutating func next(_ bound: Int) -> Int {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((seed >> 33) % UInt64(max(1, bound)))
        }

        mutating func instance(of schema: [String: Any], depth: Int) -> Any {
            guard depth < 12 else { return NSNull() }
            if let reference = schema["$ref"] as? String, let target = resolve(reference) {
                return instance(of: target, depth: depth + 1)
            }
            if let options = schema["anyOf"] as? [[String: Any]], let first = options.first {
                return instance(of: first, depth: depth + 1)
            }
            if let constant = schema["const"] { return constant }
            if let options = schema["enum"] as? [Any], !options.isEmpty { return options[next(options.count)] }
            let type: String
            if let name = schema["type"] as? String {
                type = name
            } else if let names = schema["type"] as? [String] {
                type = names.first { $0 != "null" } ?? "null"
            } else {
                type = schema["properties"] != nil ? "object" : "string"
            }
            switch type {
            case "object":
                var object: [String: Any] = [:]
                for (name, property) in schema["properties"] as? [String: Any] ?? [:] {
                    object[name] = instance(of: property as? [String: Any] ?? [:], depth: depth + 1)
                }
                return object
            case "array":
                let minimum = schema["minItems"] as? Int ?? 1
                let count = max(minimum, min(schema["maxItems"] as? Int ?? 2, 2))
                let item = schema["items"] as? [String: Any] ?? [:]
                return (0..<count).map { _ in instance(of: item, depth: depth + 1) }
            case "integer":
                return max(schema["minimum"] as? Int ?? 1, min(schema["maximum"] as? Int ?? 1_000, 1 + next(100)))
            case "number":
                let low = schema["minimum"] as? Double ?? 0
                let high = schema["maximum"] as? Double ?? 1_000
                return low + (high - low) * Double(next(90) + 5) / 100
            case "boolean":
                return next(2) == 0
            case "null":
                return NSNull()
            default:
                if (schema["format"] as? String) == "date" { return "2025-0\(1 + next(9))-1\(next(10))" }
                let count = max(1, min(words.count, 3 + next(4)))
                var text = words.isEmpty ? "text" : words.prefix(count).joined(separator: " ")
                if let minimum = schema["minLength"] as? Int, text.count < minimum {
                    text += String(repeating: ".", count: minimum - text.count)
                }
                if let maximum = schema["maxLength"] as? Int, text.count > maximum {
                    text = String(text.prefix(maximum))
                }
                return text
            }
        }

        func resolve(_ reference: String) -> [String: Any]? {
            if reference == "#" { return root }
            guard reference.hasPrefix("#/") else { return nil }
            var node: Any = root
            for part in reference.dropFirst(2).split(separator: "/") {
                guard let next = (node as? [String: Any])?[String(part)] else { return nil }
                node = next
            }
            return node as? [String: Any]
        }
    }
}
