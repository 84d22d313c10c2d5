import Foundation
import SluiceTesting
import Testing

@Suite struct ExtractCommandTests {
    @Test func plainJSONAndFailures() throws {
        let directory = try TemporaryDirectory()
        let html = try directory.write(
            "page.html",
            "<html><body><nav>Menu</nav><h2>Terms</h2><p>Pay within 30 days.</p><ul><li>EUR</li></ul></body></html>")
        let broken = try directory.write("broken.docx", "not a zip")
        let plain = try SluiceProcess.run(["extract", html])
        #expect(plain.status == 0)
        #expect(plain.stdout == "## Terms\n\nPay within 30 days.\n\n- EUR\n")
        let json = try SluiceProcess.run(["extract", "--json", html, broken])
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
