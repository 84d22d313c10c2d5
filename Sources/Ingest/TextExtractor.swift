import Crypto
import Foundation
import SluiceCore

/// Reads a document file and decodes its text.
public enum TextExtractor {
    /// File extensions this stage reads.
    public static let formats: Set<String> = [
        "txt", "md", "markdown", "text", "html", "htm", "xhtml", "xml", "docx", "pptx", "xlsx", "odt", "odp", "ods",
        "epub",
    ]

    /// A failure to read or decode a document; the message names the file and the problem.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    /// Reads a file and returns its bytes' SHA-256 (lowercase hex).
    public static func hash(file: String) throws(Failure) -> (sha256: String, bytes: Data) {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: file))
        } catch {
            throw Failure(message: "\(file): cannot read: \(error.localizedDescription)")
        }
        return (sha256(data), data)
    }

    /// SHA-256 of bytes, lowercase hex.
    public static func sha256(_ data: some DataProtocol) -> String {
        SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }

    /// Decodes a text file's bytes: UTF-8 with or without a byte order mark, or UTF-16 (LE or BE)
    /// with one.
    public static func decode(_ data: Data, name: String) throws(Failure) -> String {
        let bytes = [UInt8](data)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) {
            guard let text = String(validating: bytes.dropFirst(3), as: UTF8.self) else {
                throw invalidUTF8(bytes, name: name, offset: 3)
            }
            return text
        }
        if bytes.starts(with: [0xFF, 0xFE]) || bytes.starts(with: [0xFE, 0xFF]) {
            let bigEndian = bytes[0] == 0xFE
            guard (bytes.count - 2) % 2 == 0 else {
                throw Failure(message: "\(name): UTF-16 text with an odd number of bytes (truncated?)")
            }
            var units: [UInt16] = []
            units.reserveCapacity((bytes.count - 2) / 2)
            var index = 2
            while index + 1 < bytes.count {
                let high = UInt16(bytes[bigEndian ? index : index + 1])
                let low = UInt16(bytes[bigEndian ? index + 1 : index])
                units.append(high << 8 | low)
                index += 2
            }
            guard let text = String(validating: units, as: UTF16.self) else {
                throw Failure(message: "\(name): invalid UTF-16 (unpaired surrogate)")
            }
            return text
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw invalidUTF8(bytes, name: name, offset: 0)
        }
        return text
    }

    private static func invalidUTF8(_ bytes: [UInt8], name: String, offset: Int) -> Failure {
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes[offset...].makeIterator()
        var position = offset
        loop: while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let scalar): position += scalar.count
            case .emptyInput, .error: break loop
            }
        }
        return Failure(
            message: "\(name): not valid UTF-8 (first bad byte at offset \(position)) and no UTF-16 byte order mark")
    }

    /// Reads and decodes an enqueued document, checking it is still the version that was enqueued.
    public static func extract(_ input: IngestInput) throws(Failure) -> ChunkInput {
        let (sha, data) = try hash(file: input.file)
        guard sha == input.document.sha256 else {
            throw Failure(message: "\(input.document.path): changed since it was enqueued; enqueue the folder again")
        }
        let format = (input.document.path as NSString).pathExtension.lowercased()
        let text: String
        switch format {
        case "html", "htm", "xhtml": text = try MarkupExtractor.html(data, name: input.document.path)
        case "xml": text = try MarkupExtractor.xml(data, name: input.document.path)
        case "docx", "pptx", "xlsx", "odt", "odp", "ods", "epub":
            text = try OfficeExtractor.extract(data, format: format, name: input.document.path)
        default: text = try decode(data, name: input.document.path)
        }
        guard !text.isEmpty else { throw Failure(message: "\(input.document.path): empty document (no text)") }
        return ChunkInput(document: input.document, text: text)
    }
}
