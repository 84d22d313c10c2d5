import CLibXML2
import Foundation

/// An XML element as a small Swift tree (local names only), for the office formats' walkers.
struct MarkupNode {
    var name: String
    var attributes: [String: String]
    var children: [MarkupNode]
    /// Text of a text node (name is empty).
    var text: String?

    static let maxDepth = 512

    /// Parses XML safely (see ``MarkupExtractor/parseXML(_:name:)``).
    static func parse(_ data: Data, name: String) throws(TextExtractor.Failure) -> MarkupNode {
        let document = try MarkupExtractor.parseXML(data, name: name)
        defer { xmlFreeDoc(document) }
        guard let root = xmlDocGetRootElement(document) else {
            throw TextExtractor.Failure(message: "\(name): malformed XML (no root element)")
        }
        return convert(root, depth: 0)
    }

    private static func convert(_ node: xmlNodePtr, depth: Int) -> MarkupNode {
        let name = node.pointee.name.map { String(cString: $0) } ?? ""
        var attributes: [String: String] = [:]
        var attribute = node.pointee.properties
        while let current = attribute {
            if let key = current.pointee.name, let value = current.pointee.children?.pointee.content {
                attributes[String(cString: key)] = String(cString: value)
            }
            attribute = current.pointee.next
        }
        var children: [MarkupNode] = []
        var child = node.pointee.children
        while let current = child, depth < maxDepth {
            switch current.pointee.type {
            case XML_ELEMENT_NODE: children.append(convert(current, depth: depth + 1))
            case XML_TEXT_NODE, XML_CDATA_SECTION_NODE:
                if let content = current.pointee.content {
                    children.append(MarkupNode(name: "", attributes: [:], children: [], text: String(cString: content)))
                }
            default: break
            }
            child = current.pointee.next
        }
        return MarkupNode(name: name, attributes: attributes, children: children, text: nil)
    }

    /// Children with a local name.
    func elements(_ local: String) -> [MarkupNode] { children.filter { $0.name == local } }

    func first(_ local: String) -> MarkupNode? { children.first { $0.name == local } }

    /// Every descendant element with a local name, in document order.
    func descendants(_ local: String) -> [MarkupNode] {
        var found: [MarkupNode] = []
        for child in children where !child.name.isEmpty {
            if child.name == local { found.append(child) }
            found += child.descendants(local)
        }
        return found
    }

    /// All text below, in document order.
    var allText: String {
        if let text { return text }
        return children.map(\.allText).joined()
    }
}
