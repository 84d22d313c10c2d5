import Foundation
import Tokenizer

/// A set of real documents to measure throughput on.
package struct TextCorpus: Sendable {
    /// One document: where it came from and its text.
    package struct Document: Sendable {
        package let name: String
        package let text: String
    }

    package let documents: [Document]
    /// Where the documents came from, for the report.
    package let sources: [String]

    /// Total UTF-8 size.
    package var byteCount: Int { documents.reduce(0) { $0 + $1.text.utf8.count } }

    /// Reads the given files; files that are not valid UTF-8 are reported and skipped.
    package static func files(_ paths: [String]) throws -> TextCorpus {
        var documents: [Document] = []
        for path in paths {
            documents.append(Document(name: path, text: try TextInput.read(path)))
        }
        return TextCorpus(documents: documents, sources: paths)
    }

    /// Assembles mixed real text from what the machine has, at least `minimumBytes` of it when
    /// available: the licence texts, plain-text package documentation, and manual pages in English
    /// and in every other language installed (German, French, Spanish, Russian, Japanese, Chinese, ...).
    /// The choice is deterministic for a given machine.
    package static func machineText(minimumBytes: Int = 24_000_000) -> TextCorpus {
        var documents: [Document] = []
        var sources: [String] = []
        var total = 0
        func add(_ name: String, _ text: String) {
            guard !text.isEmpty else { return }
            documents.append(Document(name: name, text: text))
            total += text.utf8.count
        }
        // About a third each from docs and licences, English manuals, and other languages' manuals.
        let licenceRoot = "/usr/share/common-licenses"
        let docRoot = "/usr/share/doc"
        for path in regularFiles(under: licenceRoot) {
            if let text = readText(path) { add(path, text) }
        }
        sources.append(licenceRoot)
        let docBudget = minimumBytes / 3
        for path in regularFiles(under: docRoot) where !path.hasSuffix(".gz") && total < docBudget {
            guard let size = fileSize(path), size >= 1_024, size <= 2_000_000, let text = readText(path) else {
                continue
            }
            add(path, text)
        }
        sources.append(docRoot + " (plain text files)")
        let manRoot = "/usr/share/man"
        let languages = ((try? FileManager.default.contentsOfDirectory(atPath: manRoot)) ?? [])
            .filter { !$0.hasPrefix("man") }.sorted()
        let englishBudget = total + minimumBytes / 3
        let englishPages = regularFiles(under: manRoot + "/man1") + regularFiles(under: manRoot + "/man8")
        for (name, text) in manualPages(englishPages, until: englishBudget - total) { add(name, text) }
        sources.append(manRoot + "/man1, man8 (English)")
        let perLanguage = max(200_000, (minimumBytes - total) / max(1, languages.count) + 1)
        for language in languages {
            let pages = regularFiles(under: "\(manRoot)/\(language)")
            for (name, text) in manualPages(pages, until: perLanguage) { add(name, text) }
        }
        if !languages.isEmpty { sources.append(manRoot + "/{" + languages.joined(separator: ",") + "}") }
        if total < minimumBytes {
            let morePages = ["man3", "man5", "man7", "man2", "man6", "man4"].flatMap {
                regularFiles(under: "\(manRoot)/\($0)")
            }
            for (name, text) in manualPages(morePages, until: minimumBytes - total) { add(name, text) }
            sources.append(manRoot + "/man2-7 (English)")
        }
        return TextCorpus(documents: documents, sources: sources)
    }

    // MARK: Helpers

    private static func regularFiles(under root: String) -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: root) else { return [] }
        var paths: [String] = []
        while let relative = enumerator.nextObject() as? String {
            let path = root + "/" + relative
            var isDirectory: ObjCBool = false
            let attributes = try? FileManager.default.attributesOfItem(atPath: path)
            guard attributes?[.type] as? FileAttributeType == .typeRegular,
                FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue
            else { continue }
            paths.append(path)
        }
        return paths.sorted()
    }

    private static func fileSize(_ path: String) -> Int? {
        (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int
    }

    private static func readText(_ path: String) -> String? {
        guard let data = FileManager.default.contents(atPath: path), !data.contains(0) else { return nil }
        return String(validating: data, as: UTF8.self)
    }

    /// Decompresses gzip'd manual pages with one `gzip` process per call, keeping valid UTF-8 ones.
    private static func manualPages(_ paths: [String], until budget: Int) -> [(String, String)] {
        var pages: [(String, String)] = []
        var used = 0
        var index = 0
        while used < budget && index < paths.count {
            let batch = Array(paths[index..<min(index + 64, paths.count)]).filter { $0.hasSuffix(".gz") }
            index += 64
            guard !batch.isEmpty,
                let output = run(
                    "/bin/sh", ["-c", #"for f; do gzip -dc "$f" 2>/dev/null; printf '\000'; done"#, "sh"] + batch)
            else { continue }
            let parts = output.split(separator: 0, omittingEmptySubsequences: false)
            for (path, bytes) in zip(batch, parts) where used < budget {
                guard let text = String(validating: bytes, as: UTF8.self), !text.isEmpty else { continue }
                pages.append((path, text))
                used += bytes.count
            }
        }
        return pages
    }

    private static func run(_ executable: String, _ arguments: [String]) -> Data? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return nil }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return data
    }
}
