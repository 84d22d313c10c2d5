import CLibXML2
import Foundation

/// Text from HTML and XML with the system libxml2: the document's text in reading order with its
/// structure (headings marked with `#`, list items with `-`, table rows as cells joined by ` | `),
/// and nothing else — no scripts, style sheets, templates or navigation.
///
/// Parsing never touches the network and never loads external entities or DTDs, so a hostile file
/// cannot read local files (XXE) or expand entities without bound.
enum MarkupExtractor {
    private static let initialize: Void = { xmlInitParser() }()

    /// Elements whose content is never text for the reader.
    static let dropped: Set<String> = [
        "script", "style", "template", "noscript", "nav", "head", "title", "svg", "canvas", "iframe", "object",
        "button", "select", "form",
    ]
    /// Elements that start a new block.
    static let blocks: Set<String> = [
        "p", "div", "section", "article", "main", "aside", "header", "footer", "blockquote", "figure", "figcaption",
        "ul", "ol", "dl", "dt", "dd", "table", "thead", "tbody", "tfoot", "caption", "body", "html", "address",
        "details", "summary", "hr", "br",
        // DocBook
        "para", "simpara", "title", "chapter", "sect1", "sect2", "sect3", "listitem", "programlisting", "screen",
        "row", "entry",
    ]

    static func html(_ data: Data, name: String) throws(TextExtractor.Failure) -> String {
        let options = Int32(
            HTML_PARSE_RECOVER.rawValue | HTML_PARSE_NONET.rawValue | HTML_PARSE_NOERROR.rawValue
                | HTML_PARSE_NOWARNING.rawValue)
        return try text(of: data, name: name, lowercaseNames: true, kind: "HTML") { base, count in
            htmlReadMemory(base, count, name, nil, options)
        }
    }

    static func xml(_ data: Data, name: String) throws(TextExtractor.Failure) -> String {
        // No XML_PARSE_NOENT (entity substitution), no DTD loading: external entities stay unresolved.
        let options = Int32(
            XML_PARSE_NONET.rawValue | XML_PARSE_NOERROR.rawValue | XML_PARSE_NOWARNING.rawValue
                | XML_PARSE_NOCDATA.rawValue)
        return try text(of: data, name: name, lowercaseNames: false, kind: "XML") { base, count in
            xmlReadMemory(base, count, name, nil, options)
        }
    }

    /// Parses with `parse`, walks the tree into blocks, and frees the document.
    private static func text(
        of data: Data, name: String, lowercaseNames: Bool, kind: String,
        parse: (UnsafePointer<CChar>, Int32) -> xmlDocPtr?
    ) throws(TextExtractor.Failure) -> String {
        _ = initialize
        let document: xmlDocPtr? = data.withUnsafeBytes { raw in
            guard let base = raw.baseAddress?.assumingMemoryBound(to: CChar.self) else { return nil }
            return parse(base, Int32(raw.count))
        }
        guard let document else {
            let error = xmlGetLastError().map {
                String(cString: $0.pointee.message).trimmingCharacters(in: .whitespacesAndNewlines)
            }
            throw TextExtractor.Failure(message: "\(name): malformed \(kind)\(error.map { ": " + $0 } ?? "")")
        }
        defer { xmlFreeDoc(document) }
        var builder = BlockBuilder(lowercaseNames: lowercaseNames)
        builder.visit(xmlDocGetRootElement(document), depth: 0)
        return builder.finish()
    }
}

/// Collects blocks of text while walking a libxml2 tree.
struct BlockBuilder {
    let lowercaseNames: Bool
    var blocks: [String] = []
    /// The current block's UTF-8 bytes.
    var line: [UInt8] = []
    var preformatted = 0
    static let maxDepth = 512

    init(lowercaseNames: Bool) { self.lowercaseNames = lowercaseNames }

    mutating func finish() -> String {
        flush()
        return blocks.joined(separator: "\n\n")
    }

    /// A marker (`- `, `# `) for the next non-empty block: a list item's first paragraph gets it.
    var pendingPrefix = ""

    mutating func flush() {
        let text = String(decoding: preformatted > 0 ? line : Self.collapsingWhitespace(line), as: UTF8.self)
        if line.contains(where: { $0 > 0x20 }) {
            blocks.append(pendingPrefix + text)
            pendingPrefix = ""
        }
        line.removeAll(keepingCapacity: true)
    }

    /// ASCII whitespace runs become one space, trimmed at both ends (on bytes, for speed).
    static func collapsingWhitespace(_ bytes: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var pendingSpace = false
        for byte in bytes {
            if byte == 0x20 || byte == 0x0A || byte == 0x09 || byte == 0x0D || byte == 0x0C {
                pendingSpace = !output.isEmpty
            } else {
                if pendingSpace { output.append(0x20) }
                pendingSpace = false
                output.append(byte)
            }
        }
        return output
    }

    mutating func visit(_ node: xmlNodePtr?, depth: Int) {
        guard let node, depth < Self.maxDepth else { return }
        switch node.pointee.type {
        case XML_TEXT_NODE, XML_CDATA_SECTION_NODE:
            if let content = node.pointee.content {
                line.append(
                    contentsOf: UnsafeBufferPointer(
                        start: content, count: strlen(UnsafeRawPointer(content).assumingMemoryBound(to: CChar.self))))
            }
        case XML_ELEMENT_NODE:
            element(node, depth: depth)
        default:
            break  // comments, processing instructions, unresolved entity references
        }
    }

    private mutating func children(_ node: xmlNodePtr, depth: Int) {
        var child = node.pointee.children
        while let current = child {
            visit(current, depth: depth + 1)
            child = current.pointee.next
        }
    }

    private mutating func element(_ node: xmlNodePtr, depth: Int) {
        var name = node.pointee.name.map { String(cString: $0) } ?? ""
        if let colon = name.lastIndex(of: ":") { name = String(name[name.index(after: colon)...]) }
        if lowercaseNames { name = name.lowercased() }
        if MarkupExtractor.dropped.contains(name) && !(name == "title" && !lowercaseNames) { return }
        if name.count == 2, name.first == "h", let level = name.last?.wholeNumberValue, (1...6).contains(level) {
            flush()
            pendingPrefix = String(repeating: "#", count: level) + " "
            children(node, depth: depth)
            flush()
            pendingPrefix = ""
            return
        }
        switch name {
        case "li", "listitem":
            flush()
            pendingPrefix = "- "
            children(node, depth: depth)
            flush()
            pendingPrefix = ""
        case "tr", "row":
            flush()
            var cells: [String] = []
            var child = node.pointee.children
            while let cell = child {
                var inner = BlockBuilder(lowercaseNames: lowercaseNames)
                inner.visit(cell, depth: depth + 1)
                // Each block of the cell is already whitespace-collapsed; join them on one line.
                let text = inner.finish().replacingOccurrences(of: "\n\n", with: " ")
                if cell.pointee.type == XML_ELEMENT_NODE { cells.append(text) }
                child = cell.pointee.next
            }
            if cells.contains(where: { !$0.isEmpty }) { blocks.append(cells.joined(separator: " | ")) }
        case "pre", "programlisting", "screen":
            flush()
            preformatted += 1
            children(node, depth: depth)
            flush()
            preformatted -= 1
        case "title" where !lowercaseNames:
            // DocBook section titles are headings.
            flush()
            pendingPrefix = "# "
            children(node, depth: depth)
            flush()
            pendingPrefix = ""
        default:
            let block = MarkupExtractor.blocks.contains(name)
            if block { flush() }
            children(node, depth: depth)
            if block { flush() } else if name == "td" || name == "th" { line.append(0x20) }
        }
    }
}
