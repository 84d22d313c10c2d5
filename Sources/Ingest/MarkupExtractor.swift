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

    static func html(_ data: Data, name: String) throws(TextExtractor.Failure) -> String {
        _ = initialize
        let options = Int32(
            HTML_PARSE_RECOVER.rawValue | HTML_PARSE_NONET.rawValue | HTML_PARSE_NOERROR.rawValue
                | HTML_PARSE_NOWARNING.rawValue | HTML_PARSE_NOIMPLIED.rawValue)
        var builder = BlockBuilder(roles: .html)
        let parsed = data.withUnsafeBytes { raw -> Bool in
            guard let base = raw.baseAddress?.assumingMemoryBound(to: CChar.self), raw.count > 0,
                let context = htmlCreateMemoryParserCtxt(base, Int32(clamping: raw.count))
            else { return raw.count == 0 }
            defer {
                if let document = context.pointee.myDoc { xmlFreeDoc(document) }
                htmlFreeParserCtxt(context)
            }
            _ = htmlCtxtUseOptions(context, options)
            // Streaming: the parser calls back for elements and text; no tree is built.
            var handler = htmlSAXHandler()
            handler.startElement = { context, name, _ in
                guard let builder = context?.assumingMemoryBound(to: BlockBuilder.self) else { return }
                builder.pointee.start(builder.pointee.roles.role(of: name))
            }
            handler.endElement = { context, _ in
                context?.assumingMemoryBound(to: BlockBuilder.self).pointee.end()
            }
            let characters: charactersSAXFunc = { context, bytes, count in
                guard let builder = context?.assumingMemoryBound(to: BlockBuilder.self), let bytes, count > 0 else {
                    return
                }
                builder.pointee.text(UnsafeBufferPointer(start: bytes, count: Int(count)))
            }
            handler.characters = characters
            handler.ignorableWhitespace = characters
            handler.cdataBlock = characters
            return withUnsafeMutablePointer(to: &handler) { handlerPointer in
                withUnsafeMutablePointer(to: &builder) { builderPointer in
                    let original = context.pointee.sax
                    context.pointee.sax = handlerPointer
                    context.pointee.userData = UnsafeMutableRawPointer(builderPointer)
                    defer {
                        context.pointee.sax = original
                        context.pointee.userData = UnsafeMutableRawPointer(context)
                    }
                    return htmlParseDocument(context) == 0 || context.pointee.recovery != 0
                }
            }
        }
        guard parsed else { throw TextExtractor.Failure(message: "\(name): malformed HTML") }
        return builder.finish()
    }

    static func xml(_ data: Data, name: String) throws(TextExtractor.Failure) -> String {
        let document = try parseXML(data, name: name)
        defer { xmlFreeDoc(document) }
        var builder = BlockBuilder(roles: .xml)
        builder.walk(xmlDocGetRootElement(document))
        return builder.finish()
    }

    /// Parses XML safely — no network, no entity substitution (XML_PARSE_NOENT), no DTD loading, so
    /// external entities stay unresolved — into a document the caller frees with `xmlFreeDoc`.
    static func parseXML(_ data: Data, name: String) throws(TextExtractor.Failure) -> xmlDocPtr {
        _ = initialize
        let options = Int32(
            XML_PARSE_NONET.rawValue | XML_PARSE_NOERROR.rawValue | XML_PARSE_NOWARNING.rawValue
                | XML_PARSE_NOCDATA.rawValue)
        let document: xmlDocPtr? = data.withUnsafeBytes { raw in
            guard let base = raw.baseAddress?.assumingMemoryBound(to: CChar.self) else { return nil }
            return xmlReadMemory(base, Int32(clamping: raw.count), name, nil, options)
        }
        guard let document else {
            let error = xmlGetLastError().map {
                String(cString: $0.pointee.message).trimmingCharacters(in: .whitespacesAndNewlines)
            }
            throw TextExtractor.Failure(message: "\(name): malformed XML\(error.map { ": " + $0 } ?? "")")
        }
        return document
    }
}
