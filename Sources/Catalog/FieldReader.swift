import SluiceCore
import Yams

/// Typed access to a YAML mapping with errors that name file, line and field.
package struct FieldReader {
    package init(file: String, mapping: Node.Mapping, path: String, code: SluiceError.Code = .invalidPipeline) {
        self.file = file
        self.mapping = mapping
        self.path = path
        self.code = code
    }

    package let file: String
    package let mapping: Node.Mapping
    package let path: String
    package var code: SluiceError.Code = .invalidPipeline

    package func node(_ key: String) -> Node? { mapping[Node(key)] }

    package func error(_ key: String, _ problem: String) -> SluiceError {
        let line = node(key)?.mark?.line ?? mapping.mark?.line
        return SluiceError(code, "\(file)\(line.map { ":\($0)" } ?? ""): field '\(path)\(key)' \(problem)")
    }

    package func rejectUnknown(_ known: Set<String>) throws {
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

    package func string(_ key: String, required: Bool = false) throws -> String? {
        guard let node = node(key) else {
            if required { throw SluiceError(code, "\(file): field '\(path)\(key)' is required") }
            return nil
        }
        guard node.scalar != nil, let value = node.string, !value.isEmpty else {
            throw error(key, "must be a non-empty string")
        }
        return value
    }

    package func int(_ key: String, minimum: Int = .min) throws -> Int? {
        guard let node = node(key) else { return nil }
        guard let value = node.int else { throw error(key, "must be a whole number") }
        guard value >= minimum else { throw error(key, "must be at least \(minimum)") }
        return value
    }

    package func double(_ key: String) throws -> Double? {
        guard let node = node(key) else { return nil }
        guard let value = node.float else { throw error(key, "must be a number") }
        return value
    }

    package func bool(_ key: String) throws -> Bool? {
        guard let node = node(key) else { return nil }
        guard let value = node.bool else { throw error(key, "must be true or false") }
        return value
    }

    /// A size in bytes: a whole number, or a number with a unit (`500KB`, `64 MB`, `1GiB`).
    package func byteSize(_ key: String) throws -> Int64? {
        guard let node = node(key) else { return nil }
        guard let text = node.string, let bytes = ByteSize.parse(text) else {
            throw error(key, "must be a size in bytes, e.g. 268435456 or \"256MB\"")
        }
        return bytes
    }

    package func strings(_ key: String) throws -> [String]? {
        guard let node = node(key) else { return nil }
        guard let sequence = node.sequence else { throw error(key, "must be a list of strings") }
        return try sequence.map { item in
            guard let value = item.string else { throw error(key, "must be a list of strings") }
            return value
        }
    }

    package func mapping(_ key: String) throws -> FieldReader? {
        guard let node = node(key) else { return nil }
        guard let mapping = node.mapping else { throw error(key, "must be a mapping") }
        return FieldReader(file: file, mapping: mapping, path: path + key + ".", code: code)
    }
}
