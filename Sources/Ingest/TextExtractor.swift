import Crypto
import Foundation
import SluiceCore
import Tools

/// Reads a document file and decodes its text.
package enum TextExtractor {
    /// File extensions this stage reads.
    package static let formats: Set<String> = [
        "txt", "md", "markdown", "text", "html", "htm", "xhtml", "xml", "docx", "pptx", "xlsx", "odt", "odp", "ods",
        "epub", "csv", "tsv", "json", "jsonl", "ndjson", "pdf",
    ]

    /// A failure to read or decode a document; the message names the file and the problem.
    package struct Failure: Error, Sendable, CustomStringConvertible {
        /// The message, naming the file.
        package let message: String
        /// Not a fault of the document: the run stopped while it was read (it is read again on resume).
        package var cancelled = false
        /// The file at the document's path cannot be read here, or is not what was enqueued: a worker
        /// on another host (another mount) may see the right one.
        package var pathUnreadable = false
        package var description: String { message }

        /// Creates it from its fields.
        package init(message: String, cancelled: Bool = false, pathUnreadable: Bool = false) {
            self.message = message
            self.cancelled = cancelled
            self.pathUnreadable = pathUnreadable
        }
    }

    /// How far reading one document may go.
    package struct Limits: Sendable {
        /// The most bytes one part expands to: one XML part of a ZIP-based document, a PDF's text.
        package var maxPartBytes: Int64 = Int64(OfficeExtractor.maxPartBytes)
        /// How long an external program (`pdftotext`) may take for one document.
        package var toolTimeout: Duration = PDFExtractor.defaultTimeout

        /// The defaults: 2 GB per part, two minutes per document.
        package init() {}

        /// The limits a pipeline's `files` section sets.
        package init(_ selection: PipelineDefinition.Selection) {
            if let bytes = selection.maxArchivePartBytes { maxPartBytes = max(1, bytes) }
            if let seconds = selection.extractTimeoutSeconds { toolTimeout = .milliseconds(Int64(seconds * 1_000)) }
        }
    }

    /// Reads a file and returns its bytes' SHA-256 (lowercase hex).
    package static func hash(file: String) throws(Failure) -> (sha256: String, bytes: Data) {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: file))
        } catch {
            throw Failure(message: "\(file): cannot read: \(error.localizedDescription)", pathUnreadable: true)
        }
        return (sha256(data), data)
    }

    /// Reads a file on a thread of its own (never the cooperative pool), at most `timeout`, and
    /// returns its bytes' SHA-256.
    package static func read(file: String, timeout: Duration = Limits().toolTimeout) async throws(Failure) -> (
        sha256: String, bytes: Data
    ) {
        do {
            return try await BlockingWork.run("reading \(file)", timeout: timeout) { try hash(file: file) }
        } catch let failure as Failure {
            throw failure
        } catch is CancellationError {
            throw Failure(message: "\(file): reading stopped", cancelled: true)
        } catch {
            throw Failure(message: "\(error)")
        }
    }

    /// SHA-256 of bytes, lowercase hex.
    package static func sha256(_ data: some DataProtocol) -> String {
        Hex.lowercase(SHA256.hash(data: data))
    }

    /// Decodes a text file's bytes: UTF-8 with or without a byte order mark; UTF-16 or UTF-32 (LE or
    /// BE) with one; UTF-16 without one when its zero bytes say so (ASCII text as UTF-16); UTF-8 with
    /// its few bad bytes replaced (U+FFFD, said through `warn`) when the rest is valid UTF-8;
    /// otherwise Windows-1252, unless the bytes look binary (an error).
    package static func decode(_ data: Data, name: String, warn: (String) -> Void = { _ in }) throws(Failure) -> String
    {
        let bytes = [UInt8](data)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) {
            guard let text = String(validating: bytes.dropFirst(3), as: UTF8.self) else {
                throw invalidUTF8(bytes, name: name, offset: 3)
            }
            return text
        }
        if bytes.starts(with: [0xFF, 0xFE, 0x00, 0x00]) || bytes.starts(with: [0x00, 0x00, 0xFE, 0xFF]) {
            let bigEndian = bytes[0] == 0x00
            guard bytes.count % 4 == 0 else {
                throw Failure(message: "\(name): UTF-32 text whose length is not a multiple of 4 bytes (truncated?)")
            }
            var scalars = String.UnicodeScalarView()
            var index = 4
            while index + 3 < bytes.count {
                let quad = bytes[index..<(index + 4)].map(UInt32.init)
                let value =
                    bigEndian
                    ? quad[0] << 24 | quad[1] << 16 | quad[2] << 8 | quad[3]
                    : quad[3] << 24 | quad[2] << 16 | quad[1] << 8 | quad[0]
                guard let scalar = Unicode.Scalar(value) else {
                    throw Failure(
                        message:
                            "\(name): invalid UTF-32 (U+\(String(value, radix: 16, uppercase: true)) at offset \(index))"
                    )
                }
                scalars.append(scalar)
                index += 4
            }
            return String(scalars)
        }
        if bytes.starts(with: [0xFF, 0xFE]) || bytes.starts(with: [0xFE, 0xFF]) {
            guard (bytes.count - 2) % 2 == 0 else {
                throw Failure(message: "\(name): UTF-16 text with an odd number of bytes (truncated?)")
            }
            guard let text = utf16(bytes, from: 2, bigEndian: bytes[0] == 0xFE) else {
                throw Failure(message: "\(name): invalid UTF-16 (unpaired surrogate)")
            }
            return text
        }
        // NUL bytes are valid UTF-8, so UTF-16 without a mark is looked for first.
        if let bigEndian = utf16WithoutMark(bytes), let text = utf16(bytes, from: 0, bigEndian: bigEndian),
            !text.unicodeScalars.contains(where: { isStrayControl($0.value) })
        {
            return text
        }
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        // Not UTF-8 and no byte order mark: binary data is refused.
        if looksBinary(bytes) {
            throw Failure(message: "\(name): binary data, not text (NUL or control bytes, no valid UTF-8)")
        }
        let (valid, invalid) = utf8Sequences(bytes)
        if valid > 0 && invalid <= valid {
            // Mostly UTF-8 (its non-ASCII characters decode): a few bad bytes are damage, not another encoding.
            warn("\(name): \(invalid) invalid UTF-8 byte sequence\(invalid == 1 ? "" : "s") replaced with U+FFFD")
            return String(decoding: bytes, as: UTF8.self)
        }
        // Other text is read as Windows-1252 (a superset of ISO 8859-1 in its printable range), the
        // most common legacy encoding.
        return windows1252(bytes)
    }

    /// UTF-16 code units from `offset` (an even count of bytes), decoded; nil with an unpaired surrogate.
    static func utf16(_ bytes: [UInt8], from offset: Int, bigEndian: Bool) -> String? {
        var units: [UInt16] = []
        units.reserveCapacity((bytes.count - offset) / 2)
        var index = offset
        while index + 1 < bytes.count {
            let high = UInt16(bytes[bigEndian ? index : index + 1])
            let low = UInt16(bytes[bigEndian ? index + 1 : index])
            units.append(high << 8 | low)
            index += 2
        }
        return String(validating: units, as: UTF16.self)
    }

    /// Whether bytes without a byte order mark are UTF-16 (true: big-endian, false: little-endian):
    /// an even length, and the high byte of most code units zero (text in Latin script) while the
    /// low bytes are not.
    static func utf16WithoutMark(_ bytes: [UInt8]) -> Bool? {
        guard bytes.count >= 4, bytes.count % 2 == 0 else { return nil }
        var zeros = (even: 0, odd: 0)
        for index in stride(from: 0, to: bytes.count, by: 2) {
            if bytes[index] == 0 { zeros.even += 1 }
            if bytes[index + 1] == 0 { zeros.odd += 1 }
        }
        let units = bytes.count / 2
        if zeros.odd * 10 >= units * 4 && zeros.even * 20 <= units { return false }
        if zeros.even * 10 >= units * 4 && zeros.odd * 20 <= units { return true }
        return nil
    }

    /// Counts of valid multi-byte UTF-8 sequences and of invalid ones.
    static func utf8Sequences(_ bytes: [UInt8]) -> (valid: Int, invalid: Int) {
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var counts = (valid: 0, invalid: 0)
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let scalar): if scalar.count > 1 { counts.valid += 1 }
            case .error: counts.invalid += 1
            case .emptyInput: return counts
            }
        }
    }

    /// NUL bytes, or more than 10% control characters other than tab, line feed, carriage return and form feed.
    static func looksBinary(_ bytes: [UInt8]) -> Bool {
        if bytes.contains(0) { return true }
        let controls = bytes.lazy.filter { $0 != 0 && isStrayControl(UInt32($0)) }.count
        return controls * 10 > bytes.count
    }

    /// NUL, or a control character other than tab, line feed, carriage return and form feed.
    static func isStrayControl(_ value: UInt32) -> Bool {
        value < 0x20 && value != 0x09 && value != 0x0A && value != 0x0D && value != 0x0C
    }

    /// Decodes Windows-1252; its five unassigned bytes become U+FFFD.
    static func windows1252(_ bytes: [UInt8]) -> String {
        let high: [UInt32] = [
            0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152,
            0xFFFD,
            0x017D, 0xFFFD, 0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161,
            0x203A,
            0x0153, 0xFFFD, 0x017E, 0x0178,
        ]
        var scalars = String.UnicodeScalarView()
        for byte in bytes {
            let value = (0x80...0x9F).contains(byte) ? high[Int(byte) - 0x80] : UInt32(byte)
            scalars.append(Unicode.Scalar(value) ?? "\u{FFFD}")
        }
        return String(scalars)
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
    package static func extract(
        _ input: IngestInput, limits: Limits = Limits(), warn: (String) -> Void = { _ in }
    ) async throws(Failure) -> ChunkInput {
        let (sha, data) = try await read(file: input.file, timeout: limits.toolTimeout)
        guard sha == input.document.sha256 else {
            throw Failure(
                message: "\(input.document.path): changed since it was enqueued; enqueue the folder again",
                pathUnreadable: true)
        }
        let text = try await blocks(of: data, file: input.file, name: input.document.path, limits: limits, warn: warn)
        return ChunkInput(document: input.document, blocks: text)
    }

    /// The blocks of a file's bytes (see ``text(of:file:name:limits:warn:)``): what the chunk stage receives.
    package static func blocks(
        of data: Data, file: String, name: String, limits: Limits = Limits(), warn: (String) -> Void = { _ in }
    ) async throws(Failure) -> [TextBlock] {
        TextBlock.blocks(
            of: try await text(of: data, file: file, name: name, limits: limits, warn: warn), format: format(of: name))
    }

    /// The format name of a path: its lowercase extension.
    package static func format(of path: String) -> String { (path as NSString).pathExtension.lowercased() }

    /// Extracts the text of a file's bytes by its format (the extension of `name`).
    ///
    /// - Parameters:
    ///   - file: The file on disk (PDF is read by `pdftotext` from there).
    ///   - name: How errors name the document.
    ///   - limits: How large a part may grow and how long `pdftotext` may take.
    ///   - warn: Told what was read but not as it was (bad bytes replaced).
    package static func text(
        of data: Data, file: String, name: String, limits: Limits = Limits(), warn: (String) -> Void = { _ in }
    ) async throws(Failure) -> String {
        let format = format(of: name)
        let text: String
        switch format {
        case "html", "htm", "xhtml": text = try MarkupExtractor.html(data, name: name)
        case "xml": text = try MarkupExtractor.xml(data, name: name)
        case "docx", "pptx", "xlsx", "odt", "odp", "ods", "epub":
            text = try OfficeExtractor.extract(
                data, format: format, name: name, maxPartBytes: UInt64(max(1, limits.maxPartBytes)))
        case "csv", "tsv":
            text = DataExtractor.delimited(
                try decode(data, name: name, warn: warn), separator: format == "csv" ? "," : "\t")
        case "json", "jsonl", "ndjson":
            text = try DataExtractor.json(data, lines: format != "json", name: name)
        case "pdf": text = try await PDFExtractor.extract(file: file, name: name, limits: limits)
        default: text = try decode(data, name: name, warn: warn)
        }
        // Only white space is no text either: nothing to send.
        guard text.unicodeScalars.contains(where: { !$0.properties.isWhitespace }) else {
            throw Failure(message: "\(name): empty document (no text)")
        }
        return text
    }
}
