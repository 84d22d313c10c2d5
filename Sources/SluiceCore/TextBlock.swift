import Foundation

/// One block of a document's extracted text, in reading order.
public struct TextBlock: Sendable, Hashable, Codable {
    /// What a block is.
    public enum Kind: String, Sendable, Codable {
        case heading, paragraph, listItem = "list_item", tableRow = "table_row", pageBreak = "page_break"
    }

    /// What it is.
    public var kind: Kind
    /// Its text (a heading's without `#`, a list item's without `- `, a break's its line).
    public var text: String
    /// Heading level (1 ... 6).
    public var level: Int?
    /// Page, slide or sheet number the block is on (from 1), when the format has pages.
    public var page: Int?

    /// Creates it from its fields.
    public init(kind: Kind, text: String, level: Int? = nil, page: Int? = nil) {
        self.kind = kind
        self.text = text
        self.level = level
        self.page = page
    }

    /// The blocks of extracted text, as the extractors lay it out: blocks separated by a blank line,
    /// `#` headings, `- ` list items, ` | ` table rows, `--- Page N ---` / `--- Slide N ---` breaks
    /// (a break's text is its line).
    ///
    /// - Parameter format: The file format; table rows are recognised only in formats that have tables.
    public static func blocks(of text: String, format: String) -> [TextBlock] {
        located(in: text, format: format).map(\.block)
    }

    /// The block as the model reads it: a heading with its `#` marks, a list item with `- `.
    public var rendered: String {
        switch kind {
        case .heading: String(repeating: "#", count: max(1, min(6, level ?? 1))) + " " + text
        case .listItem: "- " + text
        case .paragraph, .tableRow, .pageBreak: text
        }
    }

    /// The UTF-8 length of ``rendered``, without making it.
    public var renderedLength: Int {
        switch kind {
        case .heading: max(1, min(6, level ?? 1)) + 1 + text.utf8.count
        case .listItem: 2 + text.utf8.count
        case .paragraph, .tableRow, .pageBreak: text.utf8.count
        }
    }

    /// The text of blocks: each rendered, a blank line between them (the extractors' layout).
    public static func text(of blocks: [TextBlock]) -> String {
        var text = ""
        text.reserveCapacity(blocks.reduce(0) { $0 + $1.renderedLength + 2 })
        for (index, block) in blocks.enumerated() {
            if index > 0 { text += "\n\n" }
            text += block.rendered
        }
        return text
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
            var bytes = part
            let (pageBreak, heading) = bytes.withUTF8 {
                (DocumentOutline.pageBreak($0), DocumentOutline.headingLevel($0))
            }
            if let number = pageBreak {
                page = number
                blocks.append((TextBlock(kind: .pageBreak, text: String(part), level: nil, page: number), offset))
                continue
            }
            if let hashes = heading {
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
///
/// Built from the document's blocks (only headings and page, slide or sheet breaks matter here);
/// each lookup is a binary search.
public struct DocumentOutline: Sendable {
    /// From `offset` on (up to the next mark), this heading path and page are in effect.
    private struct Mark {
        let offset: Int
        let headingPath: [String]
        let page: Int?
    }

    private let marks: [Mark]

    /// Reads headings and page, slide or sheet breaks from a document's blocks; offsets are UTF-8
    /// offsets in ``TextBlock/text(of:)`` of the same blocks.
    public init(blocks: [TextBlock]) {
        var marks: [Mark] = []
        var path: [(level: Int, text: String)] = []
        var offset = 0
        for (index, block) in blocks.enumerated() {
            if index > 0 { offset += 2 }
            switch block.kind {
            case .pageBreak:
                marks.append(Mark(offset: offset, headingPath: path.map(\.text), page: block.page))
            case .heading:
                let level = block.level ?? 1
                while let last = path.last, last.level >= level { path.removeLast() }
                path.append((level, block.text))
                marks.append(Mark(offset: offset, headingPath: path.map(\.text), page: block.page))
            case .paragraph, .listItem, .tableRow:
                break
            }
            offset += block.renderedLength
        }
        self.marks = marks
    }

    /// `#` to `######` then a space: the level.
    static func headingLevel(_ block: UnsafeBufferPointer<UInt8>) -> Int? {
        var hashes = 0
        while hashes < block.count && block[hashes] == UInt8(ascii: "#") { hashes += 1 }
        guard (1...6).contains(hashes), hashes < block.count, block[hashes] == 0x20 else { return nil }
        return hashes
    }

    /// `--- Page N ---` (or Slide, Sheet): N.
    static func pageBreak(_ block: UnsafeBufferPointer<UInt8>) -> Int? {
        guard block.count >= 10, block.count < 40, block.starts(with: "--- ".utf8),
            block.suffix(4).elementsEqual(" ---".utf8)
        else { return nil }
        let words = String(decoding: block, as: UTF8.self).split(separator: " ")
        return words.count == 4 ? Int(words[2]) : nil
    }

    /// The headings in effect at a UTF-8 offset, outermost first, and the page there.
    public func position(at offset: Int) -> (headingPath: [String], page: Int?) {
        // The last mark at or before the offset.
        var low = 0
        var high = marks.count
        while low < high {
            let middle = (low + high) / 2
            if marks[middle].offset <= offset { low = middle + 1 } else { high = middle }
        }
        guard low > 0 else { return ([], nil) }
        return (marks[low - 1].headingPath, marks[low - 1].page)
    }
}
