import Foundation

/// One block of a document's extracted text, in reading order.
public struct TextBlock: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Codable {
        case heading, paragraph, listItem = "list_item", tableRow = "table_row", pageBreak = "page_break"
    }

    public var kind: Kind
    public var text: String
    /// Heading level (1 ... 6).
    public var level: Int?
    /// Page, slide or sheet number the block is on (from 1), when the format has pages.
    public var page: Int?

    /// The blocks of extracted text, as the extractors lay it out: blocks separated by a blank line,
    /// `#` headings, `- ` list items, ` | ` table rows, `--- Page N ---` / `--- Slide N ---` breaks.
    ///
    /// - Parameter format: The file format; table rows are recognised only in formats that have tables.
    public static func blocks(of text: String, format: String) -> [TextBlock] {
        located(in: text, format: format).map(\.block)
    }

    /// The text between blank-line separators ("\n\n"), found on UTF-8 bytes.
    static func parts(of text: String) -> [Substring] {
        var parts: [Substring] = []
        let utf8 = text.utf8
        var start = utf8.startIndex
        var index = utf8.startIndex
        while index < utf8.endIndex {
            let next = utf8.index(after: index)
            if utf8[index] == 0x0A, next < utf8.endIndex, utf8[next] == 0x0A {
                parts.append(text[start..<index])
                index = utf8.index(after: next)
                start = index
            } else {
                index = next
            }
        }
        parts.append(text[start...])
        return parts
    }

    /// The blocks with the UTF-8 offset where each starts in `text`.
    static func located(in text: String, format: String) -> [(block: TextBlock, offset: Int)] {
        let tables: Set<String> = [
            "csv", "tsv", "xlsx", "ods", "docx", "odt", "pptx", "odp", "html", "htm", "xhtml", "epub", "xml",
        ]
        let paged: Set<String> = ["pdf", "pptx", "odp"]
        var blocks: [(TextBlock, Int)] = []
        var page: Int? = paged.contains(format) ? 0 : nil
        var sheet = 0
        var offset = 0
        for part in Self.parts(of: text) {
            defer { offset += part.utf8.count + 2 }
            guard !part.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { continue }
            if part.hasPrefix("--- "), part.hasSuffix(" ---"),
                let number = Int(part.split(separator: " ").dropFirst(2).first ?? "")
            {
                page = number
                blocks.append((TextBlock(kind: .pageBreak, text: "", level: nil, page: number), offset))
                continue
            }
            let hashes = part.prefix { $0 == "#" }.count
            if (1...6).contains(hashes), part.dropFirst(hashes).first == " " {
                let title = String(part.dropFirst(hashes + 1))
                if title.hasPrefix("Sheet: ") {
                    sheet += 1
                    page = sheet
                }
                blocks.append((TextBlock(kind: .heading, text: title, level: hashes, page: page), offset))
            } else if part.hasPrefix("- ") {
                blocks.append(
                    (TextBlock(kind: .listItem, text: String(part.dropFirst(2)), level: nil, page: page), offset))
            } else if tables.contains(format), part.contains(" | "), !part.contains("\n") {
                blocks.append((TextBlock(kind: .tableRow, text: String(part), level: nil, page: page), offset))
            } else {
                blocks.append((TextBlock(kind: .paragraph, text: String(part), level: nil, page: page), offset))
            }
        }
        return blocks
    }
}

/// Where a position in a document's extracted text sits: its heading path and page.
public struct DocumentOutline: Sendable {
    private struct Mark {
        let offset: Int
        let heading: (level: Int, text: String)?
        let page: Int?
    }

    private let marks: [Mark]

    /// Reads headings and page, slide or sheet breaks from extracted text (see ``TextBlock/blocks(of:format:)``).
    public init(text: String, format: String) {
        marks = TextBlock.located(in: text, format: format).compactMap { block, offset in
            switch block.kind {
            case .heading: Mark(offset: offset, heading: (block.level ?? 1, block.text), page: block.page)
            case .pageBreak: Mark(offset: offset, heading: nil, page: block.page)
            default: nil
            }
        }
    }

    /// The headings in effect at a UTF-8 offset, outermost first, and the page there.
    public func position(at offset: Int) -> (headingPath: [String], page: Int?) {
        var path: [(level: Int, text: String)] = []
        var page: Int?
        for mark in marks where mark.offset <= offset {
            if let heading = mark.heading {
                while let last = path.last, last.level >= heading.level { path.removeLast() }
                path.append(heading)
            }
            if let markPage = mark.page { page = markPage }
        }
        return (path.map(\.text), page)
    }
}
