import Foundation
import Ingest
import Pipeline
import SluiceCore
import SluiceTesting
import Testing

/// Hostile and awkward input: each case ends in a clear per-document outcome while the run goes on.
@Suite struct HostileInputTests {
    func failure(_ name: String, _ data: Data) async -> String {
        do {
            _ = try await extractedText(name, data)
            return "accepted"
        } catch {
            return "\(error)"
        }
    }

    @Test func extremeNestingIsReadOrRefusedWithTheFileNamed() async throws {
        // HTML is streamed: a hundred thousand nested elements are read, and nothing is lost.
        let html =
            "<html><body>" + String(repeating: "<div>", count: 100_000) + "bottom text"
            + String(repeating: "</div>", count: 100_000) + "<p>after</p></body></html>"
        #expect(try await extractedText("deep.html", Data(html.utf8)) == "bottom text\n\nafter")
        // XML past libxml2's depth limit is refused with a message that names the file.
        let xml = String(repeating: "<a>", count: 10_000) + "deep" + String(repeating: "</a>", count: 10_000)
        let message = await failure("deep.xml", Data(xml.utf8))
        #expect(message.contains("deep.xml") && message.contains("malformed XML") && message.contains("depth"))
    }

    @Test func billionLaughsEmptyAndUndecodableFilesFailAloneAndFast() async throws {
        var entities = "<!ENTITY lol0 \"lol\">"
        for level in 1...9 {
            entities += "<!ENTITY lol\(level) \"" + String(repeating: "&lol\(level - 1);", count: 10) + "\">"
        }
        let laughs = "<?xml version=\"1.0\"?><!DOCTYPE lolz [\(entities)]><lolz>start &lol9; end</lolz>"
        let start = ContinuousClock.now
        let text = (try? await extractedText("laughs.xml", Data(laughs.utf8))) ?? "refused"
        // Expanded, the entities would be 3 GB of text: minutes of work, or memory exhausted. Read as
        // they are, well under a second alone (the bound leaves room for a loaded test machine).
        let elapsed = ContinuousClock.now - start
        #expect(elapsed < .seconds(20))
        #expect(text.count < 1_000 && !text.contains("lollol"))
        #expect(await failure("empty.html", Data()).contains("empty.html: empty document"))
        #expect(await failure("blank.docx", Data()).contains("blank.docx"))
        let latin1InUTF16Clothing = Data([0xFF, 0xFE, 0x41])
        #expect(
            await failure("odd.txt", latin1InUTF16Clothing).contains("odd.txt: UTF-16 text with an odd number of bytes")
        )
    }

    @Test func awkwardFileNamesAreProcessedOrSkippedWithAReason() async throws {
        let harness = try await PipelineRunTests.Harness()
        try harness.directory.write("docs/with spaces.txt", "A file name with spaces.")
        try harness.directory.write("docs/line\nbreak.txt", "A file name with a newline in it.")
        // "café.txt" in Latin-1: not valid UTF-8.
        let raw = (Array(harness.directory.file("docs/caf").utf8) + [0xE9] + Array(".txt".utf8) + [0]).map {
            CChar(bitPattern: $0)
        }
        let descriptor = open(raw, O_CREAT | O_WRONLY, 0o644)
        try #require(descriptor >= 0)
        close(descriptor)
        defer { unlink(raw) }

        let summary = try await harness.enqueue()
        #expect(summary.new == 2)
        let skipped = try #require(summary.skippedFiles.first)
        #expect(skipped.path == "caf\\xE9.txt" && skipped.reason.contains("not valid UTF-8"))
        let run = try await harness.run()
        #expect(run.chunksSucceeded == 2)
        let documents = try harness.lines().compactMap { ($0["sluice"] as? [String: Any])?["document"] as? String }
        #expect(Set(documents) == ["with spaces.txt", "line\nbreak.txt"])
    }

    @Test func aFileThatVanishesAfterEnqueueFailsAloneWithItsReason() async throws {
        let harness = try await PipelineRunTests.Harness()
        for name in ["keep-1.txt", "gone.txt", "keep-2.txt"] {
            try harness.directory.write("docs/" + name, "The text of \(name).")
        }
        #expect(try await harness.enqueue().new == 3)
        try FileManager.default.removeItem(atPath: harness.directory.file("docs/gone.txt"))
        let run = try await harness.run()
        #expect(run.chunksSucceeded == 2)
        #expect(run.failuresByClass["unreadable_document"] == 1)
        let failures = try await harness.queue.failures(limit: 10)
        #expect(failures.contains { $0.key.contains("gone.txt") && $0.message.contains("cannot read") })
        #expect(try harness.lines().count == 2)
    }

    @Test func theSizeCapIsConfigurable() async throws {
        var harness = try await PipelineRunTests.Harness()
        try harness.directory.write("docs/small.txt", "Small enough.")
        try harness.directory.write("docs/large.txt", String(repeating: "Too large for the cap. ", count: 100))
        harness.pipeline = try PipelineFile.parse(
            PipelineRunTests.yaml + "\nfiles: {max_size: 1KB}", file: "test.yaml", defaultName: "test")
        #expect(harness.pipeline.selection.maxFileSize == 1_000)
        let summary = try await harness.enqueue()
        #expect(summary.new == 1)
        #expect(summary.skippedFiles.map(\.path) == ["large.txt"])
        #expect(summary.skippedFiles.first?.reason.contains("size cap of 1000 bytes") == true)

        #expect(throws: SluiceError.self) {
            try PipelineFile.parse(
                PipelineRunTests.yaml + "\nfiles: {max_size: lots}", file: "t.yaml", defaultName: "t")
        }
        #expect(ByteSize.parse("256MiB") == 256 << 20)
        #expect(ByteSize.parse("64 MB") == 64_000_000)
        #expect(ByteSize.parse("1.5GB") == 1_500_000_000)
        #expect(ByteSize.parse("-1") == nil && ByteSize.parse("12 parsecs") == nil)
    }
}
