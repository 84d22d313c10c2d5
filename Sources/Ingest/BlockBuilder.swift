import CLibXML2
import Foundation

/// Collects blocks of text from a document's elements and text, in document order: headings marked
/// with `#`, list items with `- `, table rows as cells joined by ` | `, blocks separated by a blank line.
///
/// Event-driven (`start`, `end`, `text`), so it serves libxml2's streaming HTML parser (no tree is
/// built) and a walk over a parsed XML tree alike. Works on UTF-8 bytes throughout and classifies
/// element names without making strings: this runs for every element of every page a user enqueues.
struct BlockBuilder {
    let roles: ElementRoles
    /// The finished blocks, separated by a blank line.
    private var output: [UInt8] = []
    /// The current block's UTF-8 bytes, before whitespace is collapsed.
    private var line: [UInt8] = []
    /// A marker (`- `, `# `) for the next non-empty block: a list item's first paragraph gets it.
    private var pendingPrefix: [UInt8] = []
    private var preformatted = 0
    /// The roles of the open elements.
    private var open: [ElementRole] = []
    /// Open elements inside a dropped one (script, style, ...), counting it.
    private var dropped = 0
    /// The table row being built, with its cells so far, while one is open.
    private var row: [UInt8]?
    private var cells = 0
    private var rowDepth = 0
    /// The open cell's blocks (joined by spaces) while inside a row's cell.
    private var cell: [UInt8]?

    init(roles: ElementRoles) { self.roles = roles }

    mutating func finish() -> String {
        flush()
        return String(decoding: output, as: UTF8.self)
    }

    /// Ends the current block: appends it (whitespace collapsed unless preformatted) to the open cell or the output.
    private mutating func flush() {
        defer { line.removeAll(keepingCapacity: true) }
        guard line.contains(where: { $0 > 0x20 }) else { return }
        if var target = cell {
            cell = nil  // moved out and back, so the append does not copy
            if !target.isEmpty { target.append(0x20) }
            target.append(contentsOf: pendingPrefix)
            Self.appendCollapsed(line, to: &target)
            cell = target
        } else {
            if !output.isEmpty { output.append(contentsOf: [0x0A, 0x0A]) }
            output.append(contentsOf: pendingPrefix)
            if preformatted > 0 { output.append(contentsOf: line) } else { Self.appendCollapsed(line, to: &output) }
        }
        pendingPrefix.removeAll()
    }

    /// Appends bytes with ASCII whitespace runs turned into one space, trimmed at both ends.
    static func appendCollapsed(_ bytes: [UInt8], to output: inout [UInt8]) {
        var pendingSpace = false
        var started = false
        for byte in bytes {
            if byte == 0x20 || byte == 0x0A || byte == 0x09 || byte == 0x0D || byte == 0x0C {
                pendingSpace = started
            } else {
                if pendingSpace { output.append(0x20) }
                pendingSpace = false
                started = true
                output.append(byte)
            }
        }
    }

    /// Text of the document (UTF-8).
    mutating func text(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard dropped == 0 else { return }
        // Between a row's cells, only whitespace and stray text: not part of any cell.
        if row != nil && cell == nil { return }
        line.append(contentsOf: bytes)
    }

    /// An element opens.
    mutating func start(_ role: ElementRole) {
        open.append(role)
        if dropped > 0 || role == .dropped {
            dropped += 1
            return
        }
        switch role {
        case .heading(let level):
            flush()
            pendingPrefix = Array(repeating: UInt8(ascii: "#"), count: level) + [0x20]
        case .listItem:
            flush()
            pendingPrefix = [UInt8(ascii: "-"), 0x20]
        case .preformatted:
            flush()
            preformatted += 1
        case .block:
            flush()
        case .tableRow:
            if row == nil {
                flush()
                row = []
                cells = 0
            }
            rowDepth += 1
        case .tableCell:
            if row != nil && rowDepth == 1 && cell == nil {
                cell = []
            }
        case .dropped, .inline:
            break
        }
    }

    /// The innermost open element closes.
    mutating func end() {
        guard let role = open.popLast() else { return }
        if dropped > 0 {
            dropped -= 1
            return
        }
        switch role {
        case .heading, .listItem:
            flush()
            pendingPrefix.removeAll()
        case .preformatted:
            flush()
            preformatted = max(0, preformatted - 1)
        case .block:
            flush()
        case .tableRow:
            rowDepth -= 1
            if rowDepth == 0, let finished = row {
                endCell()
                row = nil
                if finished.contains(where: { $0 > 0x20 && $0 != UInt8(ascii: "|") }) {
                    if !output.isEmpty { output.append(contentsOf: [0x0A, 0x0A]) }
                    output.append(contentsOf: finished)
                }
            }
        case .tableCell:
            if row != nil && rowDepth == 1 {
                endCell()
            } else if row == nil {
                line.append(0x20)
            }
        case .dropped, .inline:
            break
        }
    }

    private mutating func endCell() {
        guard cell != nil else { return }
        flush()
        let finished = cell ?? []
        cell = nil
        if cells > 0 { row?.append(contentsOf: [0x20, UInt8(ascii: "|"), 0x20]) }
        row?.append(contentsOf: finished)
        cells += 1
    }

    /// Walks a parsed tree (elements and text) depth first.
    mutating func walk(_ root: xmlNodePtr?) {
        var node = root
        while let current = node {
            switch current.pointee.type {
            case XML_TEXT_NODE, XML_CDATA_SECTION_NODE:
                if let content = current.pointee.content {
                    let count = strlen(UnsafeRawPointer(content).assumingMemoryBound(to: CChar.self))
                    text(UnsafeBufferPointer(start: content, count: count))
                }
            case XML_ELEMENT_NODE:
                start(roles.role(of: current.pointee.name))
                if let child = current.pointee.children {
                    node = child
                    continue
                }
                end()
            default:
                break  // comments, processing instructions, unresolved entity references
            }
            // Next sibling, or climb to the first ancestor with one, closing elements on the way.
            var climbing: xmlNodePtr? = current
            node = nil
            while let up = climbing, up != root {
                if let next = up.pointee.next {
                    node = next
                    break
                }
                climbing = up.pointee.parent
                if let parent = climbing, parent.pointee.type == XML_ELEMENT_NODE { end() }
            }
        }
    }
}

/// What an element means for the extracted text.
enum ElementRole: Equatable {
    /// Never text for the reader (scripts, styles, navigation, forms).
    case dropped
    case heading(Int)
    case listItem
    case tableRow
    case tableCell
    case preformatted
    /// Starts and ends a block.
    case block
    /// Text flows through (spans, links, emphasis, unknown elements).
    case inline
}

/// Element name → role, looked up on the bytes of the local name (after any `prefix:`).
struct ElementRoles: Sendable {
    /// An element's local name packed into 16 bytes; longer names are never in a table.
    struct Key: Hashable {
        var low: UInt64 = 0
        var high: UInt64 = 0
    }

    let caseInsensitive: Bool
    private let table: [Key: ElementRole]

    init(caseInsensitive: Bool, _ entries: [(String, ElementRole)]) {
        self.caseInsensitive = caseInsensitive
        var table: [Key: ElementRole] = [:]
        for (name, role) in entries {
            let bytes = Array(name.utf8)
            if let key = bytes.withUnsafeBufferPointer({ Self.key($0, lowercase: false) }) { table[key] = role }
        }
        self.table = table
    }

    static func key(_ bytes: UnsafeBufferPointer<UInt8>, lowercase: Bool) -> Key? {
        guard bytes.count <= 16 else { return nil }
        var key = Key()
        for (index, raw) in bytes.enumerated() {
            let byte = lowercase && raw >= 0x41 && raw <= 0x5A ? raw | 0x20 : raw
            if index < 8 {
                key.low |= UInt64(byte) << (8 * UInt64(index))
            } else {
                key.high |= UInt64(byte) << (8 * UInt64(index - 8))
            }
        }
        return key
    }

    func role(of name: UnsafePointer<xmlChar>?) -> ElementRole {
        guard let name else { return .inline }
        var length = 0
        var localStart = 0
        while name[length] != 0 {
            if name[length] == UInt8(ascii: ":") { localStart = length + 1 }
            length += 1
        }
        let local = UnsafeBufferPointer(start: name + localStart, count: length - localStart)
        guard let key = Self.key(local, lowercase: caseInsensitive) else { return .inline }
        return table[key] ?? .inline
    }

    private static let common: [(String, ElementRole)] =
        [
            "script", "style", "template", "noscript", "nav", "head", "svg", "canvas", "iframe", "object", "button",
            "select", "form",
        ].map { ($0, .dropped) }
        + (1...6).map { ("h\($0)", .heading($0)) }
        + [("li", .listItem), ("tr", .tableRow), ("td", .tableCell), ("th", .tableCell), ("pre", .preformatted)]
        + [
            "p", "div", "section", "article", "main", "aside", "header", "footer", "blockquote", "figure",
            "figcaption", "ul", "ol", "dl", "dt", "dd", "table", "thead", "tbody", "tfoot", "caption", "body", "html",
            "address", "details", "summary", "hr", "br",
        ].map { ($0, .block) }

    /// HTML: names are case-insensitive; `title` is the page's title in `head`, not text.
    static let html = ElementRoles(caseInsensitive: true, common + [("title", .dropped)])

    /// XML: XHTML's elements as in HTML, plus DocBook's structure (section titles are headings).
    static let xml = ElementRoles(
        caseInsensitive: false,
        common + [
            ("title", .heading(1)), ("listitem", .listItem), ("row", .tableRow), ("entry", .tableCell),
            ("programlisting", .preformatted), ("screen", .preformatted),
        ]
            + ["para", "simpara", "chapter", "sect1", "sect2", "sect3", "section"].map { ($0, .block) })
}
