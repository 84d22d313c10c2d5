import Foundation
import Ingest
import SluiceCore
import SluiceTesting
import Testing

@Suite struct IngestTests {
    @Test func walksRecursivelyWithGlobsHiddenFilesAndSkips() async throws {
        let directory = try TemporaryDirectory()
        try directory.write("a.txt", "a")
        try directory.write("docs/b.md", "b")
        try directory.write("docs/deep/c.txt", "c")
        try directory.write("docs/deep/skip-me.txt", "x")
        try directory.write(".hidden/d.txt", "d")
        try directory.write(".e.txt", "e")
        try directory.write("image.png", "png")
        mkfifo(directory.file("pipe.txt"), 0o644)
        try FileManager.default.createSymbolicLink(
            atPath: directory.file("docs/loop"), withDestinationPath: directory.path)
        let walker = DirectoryWalker(exclude: ["**/skip-*"])
        let (files, skipped) = try walker.walk(root: directory.path)
        #expect(files.map(\.path) == ["a.txt", "docs/b.md", "docs/deep/c.txt"])
        let reasons = Dictionary(uniqueKeysWithValues: skipped.map { ($0.path, $0.reason) })
        #expect(reasons["image.png"] == "unsupported format .png")
        #expect(reasons["pipe.txt"]?.contains("not a regular file") == true)
        #expect(reasons["docs/loop"]?.contains("loop") == true)
        let withHidden = try DirectoryWalker(include: ["**/*.txt"], hidden: true).walk(root: directory.path)
        #expect(withHidden.files.map(\.path).contains(".hidden/d.txt"))
        #expect(!withHidden.files.map(\.path).contains("docs/b.md"))
    }

    @Test func linksOutOfTheFolderAreSkippedUnlessAskedFor() async throws {
        let outside = try TemporaryDirectory()
        try outside.write("secret.txt", "not for the model")
        try outside.write("tree/deep.txt", "nor this")
        let directory = try TemporaryDirectory()
        try directory.write("docs/a.txt", "a")
        let links = [
            ("passwd.txt", outside.file("secret.txt")), ("etc", outside.file("tree")), ("up", ".."),
            ("inner.txt", "docs/a.txt"), ("docs/sibling", "../docs"),
        ]
        for (name, target) in links {
            try FileManager.default.createSymbolicLink(atPath: directory.file(name), withDestinationPath: target)
        }
        let (files, skipped) = try DirectoryWalker().walk(root: directory.path)
        #expect(files.map(\.path) == ["docs/a.txt", "inner.txt"])
        let reasons = Dictionary(uniqueKeysWithValues: skipped.map { ($0.path, $0.reason) })
        for name in ["passwd.txt", "etc", "up"] {
            #expect(reasons[name]?.contains("outside the folder") == true, "\(name): \(reasons[name] ?? "-")")
        }
        #expect(reasons["passwd.txt"]?.contains("secret.txt") == true)
        #expect(reasons["docs/sibling"]?.contains("loop") == true)
        // Asked for, they are read (all but the parent folder, which is no test's business to walk).
        try FileManager.default.removeItem(atPath: directory.file("up"))
        let followed = try DirectoryWalker(followsExternalLinks: true).walk(root: directory.path)
        #expect(followed.files.map(\.path).contains("passwd.txt"))
        #expect(followed.files.map(\.path).contains("etc/deep.txt"))
    }

    @Test(arguments: [
        ("*.md", "docs/a.md", true), ("docs/*.md", "docs/a.md", true), ("docs/*.md", "docs/x/a.md", false),
        ("docs/**/*.md", "docs/x/y/a.md", true), ("**/*.md", "a.md", true), ("report-?.txt", "report-1.txt", true),
        ("[ab]*.txt", "c.txt", false), ("[!ab]*.txt", "c.txt", true),
    ])
    func globs(pattern: String, path: String, matches: Bool) {
        #expect(Glob(pattern).matches(path) == matches)
    }

    @Test func decodesUTF8WithAndWithoutBOMAndUTF16() async throws {
        let text = "Grüße, 世界"
        #expect(try TextExtractor.decode(Data(text.utf8), name: "a") == text)
        #expect(try TextExtractor.decode(Data([0xEF, 0xBB, 0xBF] + text.utf8), name: "a") == text)
        var little: [UInt8] = [0xFF, 0xFE]
        var big: [UInt8] = [0xFE, 0xFF]
        for unit in text.utf16 {
            little += [UInt8(unit & 0xFF), UInt8(unit >> 8)]
            big += [UInt8(unit >> 8), UInt8(unit & 0xFF)]
        }
        #expect(try TextExtractor.decode(Data(little), name: "a") == text)
        #expect(try TextExtractor.decode(Data(big), name: "a") == text)
        var utf32 = [UInt8]([0xFF, 0xFE, 0x00, 0x00])
        for scalar in text.unicodeScalars {
            let value = scalar.value
            utf32 += [UInt8(value & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value >> 16 & 0xFF), 0]
        }
        #expect(try TextExtractor.decode(Data(utf32), name: "a") == text)
        // Undeclared legacy text is read as Windows-1252, not refused and not mojibake.
        let legacy: [UInt8] = [0x4B, 0xFC, 0x6E, 0x64, 0x69, 0x67, 0x75, 0x6E, 0x67, 0x20, 0x80]
        #expect(try TextExtractor.decode(Data(legacy), name: "a") == "Kündigung €")
        do {
            _ = try TextExtractor.decode(Data([0x50, 0x4B, 0x03, 0x04, 0x00, 0x00, 0xFF]), name: "archive.txt")
            Issue.record("binary data was accepted")
        } catch {
            #expect(error.message.contains("archive.txt: binary data"))
        }
    }

    @Test func damagedUTF8StaysUTF8AndUTF16WithoutAMarkIsRecognized() async throws {
        // One stray byte in UTF-8 German: the rest is read as UTF-8, the byte replaced and reported.
        let bytes = Array("Der Vertrag enthält eine Kündigungsfrist.".utf8) + [0xFF] + Array(" Ende für heute.".utf8)
        var warnings: [String] = []
        let text = try TextExtractor.decode(Data(bytes), name: "vertrag.txt") { warnings.append($0) }
        #expect(text == "Der Vertrag enthält eine Kündigungsfrist.\u{FFFD} Ende für heute.")
        #expect(warnings.count == 1 && warnings[0].contains("vertrag.txt") && warnings[0].contains("U+FFFD"))
        // UTF-16 without a byte order mark (ASCII with NULs), both byte orders.
        let english = "Hello, world: a plain report.\n"
        let little = english.utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
        let big = english.utf16.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
        #expect(try TextExtractor.decode(Data(little), name: "le.txt") == english)
        #expect(try TextExtractor.decode(Data(big), name: "be.txt") == english)
        // Legacy text with a few non-ASCII bytes is still Windows-1252, silently.
        var quiet: [String] = []
        let legacy = try TextExtractor.decode(Data([0x4B, 0xFC, 0x6E, 0x64, 0x69, 0x67, 0x75, 0x6E, 0x67]), name: "a") {
            quiet.append($0)
        }
        #expect(legacy == "Kündigung" && quiet.isEmpty)
        // White space alone is an empty document: no call for it.
        do {
            _ = try await TextExtractor.text(of: Data(" \n\t\r\n  ".utf8), file: "/none", name: "blank.txt")
            Issue.record("a whitespace-only document was accepted")
        } catch {
            #expect(error.message == "blank.txt: empty document (no text)")
        }
    }

    @Test func extractionNoticesAFileChangedSinceEnqueue() async throws {
        let directory = try TemporaryDirectory()
        let file = try directory.write("a.txt", "before")
        let (sha, _) = try TextExtractor.hash(file: file)
        try directory.write("a.txt", "after")
        let input = IngestInput(document: DocumentRef(path: "a.txt", sha256: sha, size: 6, mtime: 0), file: file)
        await #expect(throws: TextExtractor.Failure.self) { try await TextExtractor.extract(input) }
    }
}
