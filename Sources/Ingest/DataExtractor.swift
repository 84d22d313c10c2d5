import Foundation

/// Text from tabular and structured data files: CSV / TSV rows and JSON / JSON Lines as readable
/// `key: value` lines.
enum DataExtractor {
    /// Rows of a CSV (RFC 4180 quoting) or TSV file, one line each with cells joined by ` | `.
    static func delimited(_ text: String, separator: Character) -> String {
        var rows: [String] = []
        var cells: [String] = []
        var cell = ""
        var quoted = false
        var characters = text.makeIterator()
        var pending: Character? = nil
        func endRow() {
            cells.append(cell)
            cell = ""
            if cells.contains(where: { !$0.trimmingCharacters(in: .whitespaces).isEmpty }) {
                rows.append(cells.map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " | "))
            }
            cells = []
        }
        while let character = pending ?? characters.next() {
            pending = nil
            if quoted {
                if character == "\"" {
                    let next = characters.next()
                    if next == "\"" { cell.append("\"") } else { quoted = false; pending = next }
                } else {
                    cell.append(character)
                }
            } else if character == "\"" && cell.isEmpty {
                quoted = true
            } else if character == separator {
                cells.append(cell)
                cell = ""
            } else if character == "\n" || character == "\r\n" || character == "\r" {
                endRow()
            } else {
                cell.append(character)
            }
        }
        if !cell.isEmpty || !cells.isEmpty { endRow() }
        return rows.joined(separator: "\n\n")
    }

    /// A JSON document, or JSON Lines (one value per line), as `path: value` lines.
    static func json(_ data: Data, lines: Bool, name: String) throws(TextExtractor.Failure) -> String {
        var blocks: [String] = []
        let documents: [Data] = lines ? data.split(separator: UInt8(ascii: "\n")).map { Data($0) } : [data]
        for (index, document) in documents.enumerated() {
            guard document.contains(where: { $0 > 0x20 }) else { continue }
            let value: Any
            do {
                value = try JSONSerialization.jsonObject(with: document, options: [.fragmentsAllowed])
            } catch {
                let location = lines ? " (line \(index + 1))" : ""
                throw TextExtractor.Failure(message: "\(name): invalid JSON\(location)")
            }
            var output: [String] = []
            flatten(value, path: "", into: &output, depth: 0)
            if !output.isEmpty { blocks.append(output.joined(separator: "\n")) }
        }
        return blocks.joined(separator: "\n\n")
    }

    private static func flatten(_ value: Any, path: String, into output: inout [String], depth: Int) {
        guard depth < 256 else { return }
        switch value {
        case let object as [String: Any]:
            for key in object.keys.sorted() {
                guard let child = object[key] else { continue }
                flatten(child, path: path.isEmpty ? key : path + "." + key, into: &output, depth: depth + 1)
            }
        case let array as [Any]:
            for (index, item) in array.enumerated() {
                flatten(item, path: path + "[\(index)]", into: &output, depth: depth + 1)
            }
        case is NSNull:
            output.append(path.isEmpty ? "null" : "\(path): null")
        case let number as NSNumber:
            // Booleans are NSNumbers of type "c" (char).
            let isBoolean = String(cString: number.objCType) == "c"
            let text = isBoolean ? (number.boolValue ? "true" : "false") : number.stringValue
            output.append(path.isEmpty ? text : "\(path): \(text)")
        default:
            let text = "\(value)"
            output.append(path.isEmpty ? text : "\(path): \(text)")
        }
    }
}
