import Foundation
import SluiceTesting
import Testing

@Suite struct ExtractCommandTests {
    @Test func plainJSONAndFailures() async throws {
        let directory = try TemporaryDirectory()
        let html = try directory.write(
            "page.html",
            "<html><body><nav>Menu</nav><h2>Terms</h2><p>Pay within 30 days.</p><ul><li>EUR</li></ul></body></html>")
        let broken = try directory.write("broken.docx", "not a zip")
        let plain = try await SluiceProcess.run(["extract", html])
        #expect(plain.status == 0)
        #expect(plain.stdout == "## Terms\n\nPay within 30 days.\n\n- EUR\n")
        let json = try await SluiceProcess.run(["extract", "--json", html, broken])
        #expect(json.status == 1)
        #expect(json.stderr.contains("broken.docx: not a ZIP archive"))
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(object["format"] as? String == "html")
        let blocks = try #require(object["blocks"] as? [[String: Any]])
        #expect(blocks.map { $0["kind"] as? String } == ["heading", "paragraph", "list_item"])
        #expect(blocks.first?["level"] as? Int == 2)
        #expect(blocks.first?["text"] as? String == "Terms")
    }
}

@Suite struct ChunkCommandTests {
    @Test func chunksWithHeadingPaths() async throws {
        let directory = try TemporaryDirectory()
        let body = (0..<8).map { "Step \($0) explains the installation on this system in a sentence or two." }
        let file = try directory.write(
            "guide.md",
            "# Guide\n\n## Linux\n\n" + body.joined(separator: "\n\n") + "\n\n## macOS\n\n"
                + body.joined(separator: "\n\n"))
        let output = try await SluiceProcess.run(["chunk", "--max-tokens", "80", "--json", file])
        #expect(output.status == 0)
        let chunks = try output.stdout.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        #expect(chunks.count > 2)
        #expect(chunks.allSatisfy { ($0["tokens"] as? Int ?? 1_000) <= 80 })
        #expect(chunks.first?["heading_path"] as? String == "Guide")
        #expect(chunks.last?["heading_path"] as? String == "Guide > macOS")
        #expect(chunks.contains { ($0["text"] as? String)?.hasPrefix("## macOS") == true })
        #expect(chunks.contains { $0["heading_path"] as? String == "Guide > Linux" })
        let bad = try await SluiceProcess.run(["chunk", "--max-tokens", "80", directory.file("missing.md")])
        #expect(bad.status == 1 && bad.stderr.contains("missing.md"))
    }
}
