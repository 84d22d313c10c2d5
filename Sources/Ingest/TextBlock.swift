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
        let tables: Set<String> = [
            "csv", "tsv", "xlsx", "ods", "docx", "odt", "pptx", "odp", "html", "htm", "xhtml", "epub", "xml",
        ]
        let paged: Set<String> = ["pdf", "pptx", "odp"]
        var blocks: [TextBlock] = []
        var page: Int? = paged.contains(format) ? 0 : nil
        var sheet = 0
        for part in text.components(separatedBy: "\n\n")
        where !part.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            if part.hasPrefix("--- "), part.hasSuffix(" ---"),
                let number = Int(part.split(separator: " ").dropFirst(2).first ?? "")
            {
                page = number
                blocks.append(TextBlock(kind: .pageBreak, text: "", level: nil, page: number))
                continue
            }
            let hashes = part.prefix { $0 == "#" }.count
            if (1...6).contains(hashes), part.dropFirst(hashes).first == " " {
                let title = String(part.dropFirst(hashes + 1))
                if title.hasPrefix("Sheet: ") {
                    sheet += 1
                    page = sheet
                }
                blocks.append(TextBlock(kind: .heading, text: title, level: hashes, page: page))
            } else if part.hasPrefix("- ") {
                blocks.append(TextBlock(kind: .listItem, text: String(part.dropFirst(2)), level: nil, page: page))
            } else if tables.contains(format), part.contains(" | "), !part.contains("\n") {
                blocks.append(TextBlock(kind: .tableRow, text: part, level: nil, page: page))
            } else {
                blocks.append(TextBlock(kind: .paragraph, text: part, level: nil, page: page))
            }
        }
        return blocks
    }
}
