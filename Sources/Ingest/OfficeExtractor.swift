import Foundation
import ZIPFoundation

/// Text from the ZIP-based document formats: Word (.docx), PowerPoint (.pptx), Excel (.xlsx),
/// OpenDocument (.odt, .odp, .ods) and EPUB.
///
/// Archives are read within caps (total and per-part uncompressed size, compression ratio, entry
/// count), counted on the bytes actually inflated, so a zip bomb is refused with an error instead of
/// filling memory.
enum OfficeExtractor {
    /// Largest total uncompressed size read from one archive.
    static let maxUncompressedBytes: UInt64 = 512 << 20
    /// Largest ratio of uncompressed to compressed size of one entry.
    static let maxRatio: UInt64 = 200
    /// Largest uncompressed size of one part (one XML file of the archive), by default: 64 MiB.
    static let maxPartBytes: UInt64 = 64 << 20
    /// Most entries an archive may have (a 4,000-slide deck has about 12,000).
    static let maxEntries = 50_000

    static func extract(_ data: Data, format: String, name: String, maxPartBytes: UInt64 = maxPartBytes)
        throws(TextExtractor.Failure) -> String
    {
        let archive: Archive
        do {
            archive = try Archive(data: data, accessMode: .read)
        } catch {
            throw TextExtractor.Failure(
                message: "\(name): not a ZIP archive (\(format) files are ZIP; truncated or mislabelled?)")
        }
        var reader = try ArchiveReader(archive: archive, name: name, maxPartBytes: maxPartBytes)
        switch format {
        case "docx": return try docx(&reader)
        case "pptx": return try pptx(&reader)
        case "xlsx": return try xlsx(&reader)
        case "odt", "odp", "ods": return try openDocument(&reader)
        case "epub": return try epub(&reader)
        default: throw TextExtractor.Failure(message: "\(name): unsupported format .\(format)")
        }
    }

    // MARK: Word

    static func docx(_ reader: inout ArchiveReader) throws(TextExtractor.Failure) -> String {
        let document = try reader.xml("word/document.xml")
        var headingStyles: [String: Int] = [:]
        var listStyles: Set<String> = []
        if let styles = try reader.optionalXML("word/styles.xml") {
            for style in styles.elements("style") {
                guard let id = style.attributes["styleId"],
                    let name = style.first("name")?.attributes["val"]?.lowercased()
                else { continue }
                if name == "title" { headingStyles[id] = 1 }
                if name.hasPrefix("heading "), let level = Int(name.dropFirst(8)) { headingStyles[id] = min(level, 6) }
                // List styles number their paragraphs in the style rather than on each paragraph.
                if style.first("pPr")?.first("numPr") != nil || name.hasPrefix("list bullet")
                    || name.hasPrefix("list number")
                {
                    listStyles.insert(id)
                }
            }
        }
        var blocks: [String] = []
        func paragraph(_ node: MarkupNode) {
            var text = ""
            var boxes: [MarkupNode] = []
            func runs(_ node: MarkupNode) {
                for child in node.children {
                    switch child.name {
                    case "t": text += child.allText
                    case "tab": text += "\t"
                    case "br", "cr": text += "\n"
                    case "txbxContent": boxes.append(child)
                    case "pPr", "rPr", "instrText", "delText": break
                    default: runs(child)
                    }
                }
            }
            runs(node)
            let properties = node.first("pPr")
            let style = properties?.first("pStyle")?.attributes["val"] ?? ""
            var prefix = ""
            if let level = headingStyles[style] ?? Self.headingLevel(style) {
                prefix = String(repeating: "#", count: level) + " "
            } else if properties?.first("numPr") != nil || listStyles.contains(style) {
                prefix = "- "
            }
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if !trimmed.isEmpty { blocks.append(prefix + trimmed) }
            for box in boxes { body(box) }
        }
        func table(_ node: MarkupNode) {
            for row in node.elements("tr") {
                let cells = row.elements("tc").map { cell in
                    cell.descendants("t").map(\.allText).joined().trimmingCharacters(in: .whitespaces)
                }
                if cells.contains(where: { !$0.isEmpty }) { blocks.append(cells.joined(separator: " | ")) }
            }
        }
        func body(_ node: MarkupNode) {
            for child in node.children {
                switch child.name {
                case "p": paragraph(child)
                case "tbl": table(child)
                case "sdt", "sdtContent", "customXml", "body", "txbxContent": body(child)
                default: break
                }
            }
        }
        body(document.first("body") ?? document)
        for (path, element, label) in [
            ("word/footnotes.xml", "footnote", "Footnote"), ("word/endnotes.xml", "endnote", "Endnote"),
        ] {
            guard let notes = try reader.optionalXML(path) else { continue }
            for note in notes.elements(element) where note.attributes["type"] == nil {
                let text = note.descendants("t").map(\.allText).joined().trimmingCharacters(in: .whitespacesAndNewlines)
                if !text.isEmpty { blocks.append("\(label) \(note.attributes["id"] ?? ""): \(text)") }
            }
        }
        return blocks.joined(separator: "\n\n")
    }

    /// `Heading1` … `Heading6` and `Title` style ids (English documents without styles.xml names).
    static func headingLevel(_ style: String) -> Int? {
        if style == "Title" { return 1 }
        guard style.hasPrefix("Heading"), let level = Int(style.dropFirst(7)) else { return nil }
        return min(max(level, 1), 6)
    }

    // MARK: PowerPoint

    static func pptx(_ reader: inout ArchiveReader) throws(TextExtractor.Failure) -> String {
        let slides = reader.paths(prefix: "ppt/slides/slide", suffix: ".xml")
            .sorted { Self.number(in: $0) < Self.number(in: $1) }
        guard !slides.isEmpty else {
            throw TextExtractor.Failure(message: "\(reader.name): a presentation without slides")
        }
        var blocks: [String] = []
        for (index, path) in slides.enumerated() {
            let slide = try reader.xml(path)
            blocks.append("--- Slide \(index + 1) ---")
            for shape in slide.descendants("sp") {
                let placeholder = shape.descendants("ph").first?.attributes["type"] ?? ""
                let paragraphs = shape.descendants("p").map { $0.descendants("t").map(\.allText).joined() }
                    .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                if placeholder == "title" || placeholder == "ctrTitle" {
                    if !paragraphs.isEmpty { blocks.append("## " + paragraphs.joined(separator: " ")) }
                } else {
                    blocks += paragraphs
                }
            }
            for row in slide.descendants("tr") {
                let cells = row.elements("tc").map { $0.descendants("t").map(\.allText).joined() }
                if cells.contains(where: { !$0.isEmpty }) { blocks.append(cells.joined(separator: " | ")) }
            }
            let relations = "ppt/slides/_rels/" + (path as NSString).lastPathComponent + ".rels"
            if let rels = try reader.optionalXML(relations) {
                for relation in rels.elements("Relationship")
                where (relation.attributes["Type"] ?? "").hasSuffix("/notesSlide") {
                    guard let target = relation.attributes["Target"] else { continue }
                    let notesPath = "ppt/" + target.replacingOccurrences(of: "../", with: "")
                    guard let notes = try reader.optionalXML(notesPath) else { continue }
                    let text = notes.descendants("sp")
                        .filter { ($0.descendants("ph").first?.attributes["type"] ?? "body") == "body" }
                        .flatMap { $0.descendants("p") }.map { $0.descendants("t").map(\.allText).joined() }
                        .filter { !$0.isEmpty }.joined(separator: " ")
                    if !text.isEmpty { blocks.append("Notes: " + text) }
                }
            }
        }
        return blocks.joined(separator: "\n\n")
    }

    static func number(in path: String) -> Int {
        Int(path.filter(\.isNumber)) ?? 0
    }

    // MARK: Excel

    static func xlsx(_ reader: inout ArchiveReader) throws(TextExtractor.Failure) -> String {
        let workbook = try reader.xml("xl/workbook.xml")
        var targets: [String: String] = [:]
        if let rels = try reader.optionalXML("xl/_rels/workbook.xml.rels") {
            for relation in rels.elements("Relationship") {
                if let id = relation.attributes["Id"], let target = relation.attributes["Target"] {
                    targets[id] = target.hasPrefix("/") ? String(target.dropFirst()) : "xl/" + target
                }
            }
        }
        var shared: [String] = []
        if let strings = try reader.optionalXML("xl/sharedStrings.xml") {
            shared = strings.elements("si").map { $0.descendants("t").map(\.allText).joined() }
        }
        let formats = try cellFormats(&reader)
        let date1904 = ["1", "true"].contains(workbook.first("workbookPr")?.attributes["date1904"] ?? "")
        var blocks: [String] = []
        for sheet in workbook.descendants("sheet") {
            let title = sheet.attributes["name"] ?? "Sheet"
            guard let id = sheet.attributes["id"], let path = targets[id] else { continue }
            let data = try reader.xml(path)
            blocks.append("# Sheet: \(title)")
            for row in data.descendants("row") {
                let cells = row.elements("c").map { cell -> String in
                    let value = cell.first("v")?.allText ?? ""
                    switch cell.attributes["t"] ?? "n" {
                    case "s": return Int(value).flatMap { shared.indices.contains($0) ? shared[$0] : nil } ?? ""
                    case "inlineStr": return cell.descendants("t").map(\.allText).joined()
                    case "b": return value == "1" ? "TRUE" : "FALSE"
                    case "n":
                        let style = Int(cell.attributes["s"] ?? "0") ?? 0
                        guard formats.indices.contains(style), !value.isEmpty else { return value }
                        return formats[style].display(value, date1904: date1904)
                    default: return value
                    }
                }
                if cells.contains(where: { !$0.isEmpty }) { blocks.append(cells.joined(separator: " | ")) }
            }
        }
        return blocks.joined(separator: "\n\n")
    }

    /// The number format of each cell style (`xl/styles.xml` cellXfs), in order.
    static func cellFormats(_ reader: inout ArchiveReader) throws(TextExtractor.Failure) -> [NumberFormat] {
        guard let styles = try reader.optionalXML("xl/styles.xml") else { return [] }
        var custom: [Int: NumberFormat] = [:]
        for format in styles.first("numFmts")?.elements("numFmt") ?? [] {
            if let id = Int(format.attributes["numFmtId"] ?? ""), let code = format.attributes["formatCode"] {
                custom[id] = NumberFormat(code: code)
            }
        }
        return (styles.first("cellXfs")?.elements("xf") ?? []).map { style in
            let id = Int(style.attributes["numFmtId"] ?? "0") ?? 0
            return custom[id] ?? NumberFormat.builtIn(id) ?? NumberFormat(code: "General")
        }
    }

    // MARK: OpenDocument

    static func openDocument(_ reader: inout ArchiveReader) throws(TextExtractor.Failure) -> String {
        let content = try reader.xml("content.xml")
        var blocks: [String] = []
        var slides = 0
        func walk(_ node: MarkupNode) {
            for child in node.children {
                switch child.name {
                case "h":
                    let level = Int(child.attributes["outline-level"] ?? "1") ?? 1
                    let text = child.allText.trimmingCharacters(in: .whitespacesAndNewlines)
                    if !text.isEmpty {
                        blocks.append(String(repeating: "#", count: min(max(level, 1), 6)) + " " + text)
                    }
                case "p":
                    let text = child.allText.trimmingCharacters(in: .whitespacesAndNewlines)
                    if !text.isEmpty { blocks.append(text) }
                case "list-item":
                    let text = child.descendants("p").map(\.allText).joined(separator: " ")
                        .trimmingCharacters(in: .whitespacesAndNewlines)
                    if !text.isEmpty { blocks.append("- " + text) }
                case "table":
                    if let name = child.attributes["name"], content.descendants("spreadsheet").isEmpty == false {
                        blocks.append("# Sheet: \(name)")
                    }
                    walk(child)
                case "table-row":
                    let cells = child.elements("table-cell").map {
                        $0.descendants("p").map(\.allText).joined(separator: " ")
                    }
                    if cells.contains(where: { !$0.isEmpty }) {
                        var trimmed = cells
                        while trimmed.last?.isEmpty == true { trimmed.removeLast() }
                        blocks.append(trimmed.joined(separator: " | "))
                    }
                case "page":
                    slides += 1
                    blocks.append("--- Slide \(slides) ---")
                    walk(child)
                case "frame" where child.attributes["class"] == "title":
                    // A slide title (presentation:class="title").
                    let text = child.descendants("p").map(\.allText).joined(separator: " ")
                        .trimmingCharacters(in: .whitespacesAndNewlines)
                    if !text.isEmpty { blocks.append("## " + text) }
                case "notes":
                    let text = child.descendants("p").map(\.allText).filter { !$0.isEmpty }.joined(separator: " ")
                        .trimmingCharacters(in: .whitespacesAndNewlines)
                    if !text.isEmpty { blocks.append("Notes: " + text) }
                default:
                    walk(child)
                }
            }
        }
        walk(content.first("body") ?? content)
        return blocks.joined(separator: "\n\n")
    }

    // MARK: EPUB

    static func epub(_ reader: inout ArchiveReader) throws(TextExtractor.Failure) -> String {
        let container = try reader.xml("META-INF/container.xml")
        guard let opfPath = container.descendants("rootfile").first?.attributes["full-path"] else {
            throw TextExtractor.Failure(
                message: "\(reader.name): EPUB without a package document (META-INF/container.xml)")
        }
        let package = try reader.xml(opfPath)
        let base = (opfPath as NSString).deletingLastPathComponent
        var items: [String: String] = [:]
        for item in package.descendants("item") {
            if let id = item.attributes["id"], let href = item.attributes["href"] {
                items[id] = base.isEmpty ? href : base + "/" + href
            }
        }
        var parts: [String] = []
        for reference in package.descendants("itemref") {
            guard let id = reference.attributes["idref"], let path = items[id]?.removingPercentEncoding else {
                continue
            }
            let data = try reader.data(path)
            let text = try MarkupExtractor.html(data, name: reader.name + ":" + path)
            if !text.isEmpty { parts.append(text) }
        }
        return parts.joined(separator: "\n\n")
    }
}

/// Reads entries of an archive within the size and ratio caps.
///
/// The central directory is indexed once (a lookup by path would scan it every time), and what an
/// entry inflates to is counted as it comes: its header's sizes may lie, so the first byte beyond the
/// smallest of what it declares, the ratio cap × its compressed size, the cap on one part and what is
/// left of the archive's total stops it.
struct ArchiveReader {
    let archive: Archive
    let name: String
    private let entries: [String: Entry]
    private var total: UInt64 = 0
    private let maxPartBytes: UInt64

    init(archive: Archive, name: String, maxPartBytes: UInt64 = OfficeExtractor.maxPartBytes)
        throws(TextExtractor.Failure)
    {
        self.archive = archive
        self.name = name
        self.maxPartBytes = maxPartBytes
        var entries: [String: Entry] = [:]
        for entry in archive {
            guard entries.count < OfficeExtractor.maxEntries else {
                throw TextExtractor.Failure(
                    message: "\(name): more than \(OfficeExtractor.maxEntries) entries in the archive; refused")
            }
            if entries[entry.path] == nil { entries[entry.path] = entry }
        }
        self.entries = entries
    }

    func paths(prefix: String, suffix: String) -> [String] {
        entries.keys.filter {
            $0.hasPrefix(prefix) && $0.hasSuffix(suffix) && !$0.dropFirst(prefix.count).contains("/")
        }
    }

    func contains(_ path: String) -> Bool { entries[path] != nil }

    mutating func data(_ path: String) throws(TextExtractor.Failure) -> Data {
        guard let entry = entries[path] else {
            throw TextExtractor.Failure(message: "\(name): missing \(path) (not a complete document)")
        }
        let declared = entry.uncompressedSize
        let byRatio = OfficeExtractor.maxRatio * max(entry.compressedSize, 1)
        let left = OfficeExtractor.maxUncompressedBytes - total
        if declared > byRatio || declared > left || declared > maxPartBytes {
            throw TextExtractor.Failure(
                message:
                    "\(name): \(path) would expand to \(declared) bytes from \(entry.compressedSize) (zip bomb?); refused"
            )
        }
        let limit = min(declared, byRatio, left, maxPartBytes)
        var output = Data()
        var inflated: UInt64 = 0
        do {
            _ = try archive.extract(entry, skipCRC32: false) { chunk in
                inflated += UInt64(chunk.count)
                guard inflated <= limit else { throw OverExpansion() }
                output.append(chunk)
            }
        } catch is OverExpansion {
            throw TextExtractor.Failure(
                message:
                    "\(name): \(path) inflates beyond the \(limit) bytes its header and the caps allow (zip bomb?); refused"
            )
        } catch {
            throw TextExtractor.Failure(
                message: "\(name): cannot read \(path) from the archive (truncated or corrupt): \(error)")
        }
        total += UInt64(output.count)
        return output
    }

    mutating func xml(_ path: String) throws(TextExtractor.Failure) -> MarkupNode {
        try MarkupNode.parse(try data(path), name: "\(name):\(path)")
    }

    mutating func optionalXML(_ path: String) throws(TextExtractor.Failure) -> MarkupNode? {
        contains(path) ? try xml(path) : nil
    }

    private struct OverExpansion: Error {}
}

extension TextExtractor {
    /// The uncompressed size of the XML parts of a ZIP-based document (for throughput figures), or nil.
    package static func xmlBytes(ofArchive data: Data) -> Int? {
        guard let archive = try? Archive(data: data, accessMode: .read, pathEncoding: nil) else { return nil }
        return archive.filter { $0.path.hasSuffix(".xml") || $0.path.hasSuffix(".xhtml") }.reduce(0) {
            $0 + Int($1.uncompressedSize)
        }
    }
}
