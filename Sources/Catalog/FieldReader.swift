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

    /// Whole numbers are bounded (by default to 10^12) so that no count or product of counts overflows.
    package func int(_ key: String, minimum: Int = .min, maximum: Int = 1_000_000_000_000) throws -> Int? {
        guard let node = node(key) else { return nil }
        guard let value = node.int else { throw error(key, "must be a whole number") }
        guard value >= minimum else { throw error(key, "must be at least \(minimum)") }
        guard value <= maximum else { throw error(key, "must be at most \(maximum)") }
        return value
    }

    /// Numbers are finite (`.nan` and `.inf` are YAML numbers too) and within `range` when given.
    package func double(_ key: String, in range: ClosedRange<Double>? = nil) throws -> Double? {
        guard let node = node(key) else { return nil }
        guard let value = node.float, value.isFinite else { throw error(key, "must be a finite number") }
        if let range, !range.contains(value) {
            throw error(key, "must be from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    /// Composes YAML text, refusing what is too large to be a configuration file: more than 1 MiB of
    /// text, or aliases that expand it past 100,000 nodes (a "billion laughs" of a few hundred bytes).
    package static func compose(_ text: String, file: String, code: SluiceError.Code) throws -> Node? {
        let maxBytes = 1 << 20
        guard text.utf8.count <= maxBytes else {
            throw SluiceError(code, "\(file): larger than \(maxBytes) bytes; not a configuration file")
        }
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            throw SluiceError(code, "\(file): not valid YAML: \(error)", cause: error)
        }
        if let node {
            var budget = 100_000
            guard within(node, budget: &budget) else {
                throw SluiceError(
                    code, "\(file): its aliases expand it past 100,000 values (an alias bomb?); refused")
            }
        }
        return node
    }

    /// Counts a node's values as expanded (aliases copy what they name), stopping once over budget.
    private static func within(_ node: Node, budget: inout Int) -> Bool {
        budget -= 1
        guard budget >= 0 else { return false }
        switch node {
        case .scalar, .alias: return true
        case .sequence(let sequence):
            for item in sequence where !within(item, budget: &budget) { return false }
        case .mapping(let mapping):
            for (key, value) in mapping where !within(key, budget: &budget) || !within(value, budget: &budget) {
                return false
            }
        }
        return true
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
