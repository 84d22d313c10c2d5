import Foundation
import Ingest
import SluiceCore
import Testing
import ZIPFoundation

/// ZIP-based documents made to hurt: a header that understates what an entry inflates to, a part
/// over the per-part cap, thousands of entries.
@Suite struct ArchiveLimitsTests {
    /// An in-memory archive of the given entries (deflated).
    static func archive(_ entries: [(String, Data)]) throws -> Data {
        let archive = try Archive(data: Data(), accessMode: .create)
        for (path, data) in entries {
            try archive.addEntry(
                with: path, type: .file, uncompressedSize: Int64(data.count), compressionMethod: .deflate,
                provider: { position, size in data.subdata(in: Int(position)..<Int(position) + size) })
        }
        return try #require(archive.data)
    }

    /// Rewrites every uncompressed size in the local and central headers to `size`.
    static func lying(_ zip: Data, declaredSize size: UInt32) -> Data {
        var bytes = [UInt8](zip)
        func put(_ offset: Int) {
            for index in 0..<4 { bytes[offset + index] = UInt8(size >> (8 * UInt32(index)) & 0xFF) }
        }
        var offset = 0
        while offset + 46 <= bytes.count {
            let signature =
                UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16
                | UInt32(bytes[offset + 3]) << 24
            if signature == 0x0403_4B50 { put(offset + 22) }
            if signature == 0x0201_4B50 { put(offset + 24) }
            offset += 1
        }
        return Data(bytes)
    }

    func failure(_ name: String, _ data: Data, maxPart: Int64? = nil) async -> String {
        do {
            var limits = TextExtractor.Limits()
            if let maxPart { limits.maxPartBytes = maxPart }
            _ = try await TextExtractor.text(of: data, file: "/none", name: name, limits: limits)
            return "accepted"
        } catch {
            return error.message
        }
    }

    @Test func aHeaderThatUnderstatesTheSizeStopsAtTheFirstByteOver() async throws {
        // 40 MB of XML that deflates well within the ratio cap's reach once the header lies about it.
        let paragraph = Data("<w:p><w:r><w:t>clause</w:t></w:r></w:p>".utf8)
        var body = Data(
            "<w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body>".utf8)
        for _ in 0..<1_000_000 { body.append(paragraph) }
        body.append(Data("</w:body></w:document>".utf8))
        let honest = try Self.archive([("word/document.xml", body)])
        let compressed = honest.count
        let lie = Self.lying(honest, declaredSize: UInt32(compressed * 2))
        let message = await failure("lying.docx", lie)
        #expect(message.contains("lying.docx") && message.contains("inflates beyond"), "\(message)")
        #expect(message.contains("zip bomb"))
    }

    @Test func onePartOverItsCapIsRefusedAndTheCapIsConfigurable() async throws {
        let xml = Data(
            ("<w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body>"
                + "<w:p><w:r><w:t>Payment is due within thirty days.</w:t></w:r></w:p></w:body></w:document>").utf8)
        let docx = try Self.archive([("word/document.xml", xml)])
        #expect(await failure("small.docx", docx) == "accepted")
        let refused = await failure("small.docx", docx, maxPart: 64)
        #expect(refused.contains("small.docx") && refused.contains("word/document.xml"), "\(refused)")
    }

    @Test func aDeckOfFourThousandSlidesIsReadInOnePass() async throws {
        var entries: [(String, Data)] = []
        for index in 1...4_000 {
            let slide =
                "<p:sld xmlns:p=\"http://schemas.openxmlformats.org/presentationml/2006/main\" "
                + "xmlns:a=\"http://schemas.openxmlformats.org/drawingml/2006/main\"><p:cSld><p:spTree><p:sp><p:txBody>"
                + "<a:p><a:r><a:t>Point \(index)</a:t></a:r></a:p></p:txBody></p:sp></p:spTree></p:cSld></p:sld>"
            entries.append(("ppt/slides/slide\(index).xml", Data(slide.utf8)))
        }
        let deck = try Self.archive(entries)
        let text = try await TextExtractor.text(of: deck, file: "/none", name: "deck.pptx")
        #expect(text.components(separatedBy: "--- Slide ").count - 1 == 4_000)
        #expect(text.contains("Point 1\n") && text.hasSuffix("Point 4000"))
    }

    @Test func anArchiveOfTooManyEntriesIsRefused() async throws {
        // Written by hand (stored, empty entries): a ZIP library takes long to add 50,001 of them.
        var local: [UInt8] = []
        var central: [UInt8] = []
        func le(_ value: Int, _ bytes: Int) -> [UInt8] { (0..<bytes).map { UInt8(value >> (8 * $0) & 0xFF) } }
        let count = 50_001
        for index in 0..<count {
            let name = Array("x/\(index)".utf8)
            let offset = local.count
            local +=
                le(0x0403_4B50, 4) + le(20, 2) + le(0, 2) + le(0, 2) + le(0, 4) + le(0, 4) + le(0, 4) + le(0, 4)
                + le(name.count, 2) + le(0, 2) + name
            central +=
                le(0x0201_4B50, 4) + le(20, 2) + le(20, 2) + le(0, 2) + le(0, 2) + le(0, 4) + le(0, 4)
                + le(0, 4) + le(0, 4) + le(name.count, 2) + le(0, 2) + le(0, 2) + le(0, 2) + le(0, 2) + le(0, 4)
                + le(offset, 4) + name
        }
        let end =
            le(0x0605_4B50, 4) + le(0, 2) + le(0, 2) + le(count, 2) + le(count, 2) + le(central.count, 4)
            + le(local.count, 4) + le(0, 2)
        let message = await failure("many.docx", Data(local + central + end))
        #expect(message.contains("many.docx") && message.contains("more than 50000 entries"), "\(message)")
    }
}
