import Foundation

/// Text from PDF in reading order, page by page, with poppler's `pdftotext`.
enum PDFExtractor {
    /// Where `pdftotext` is, if installed.
    static let program: String? = ["/usr/bin/pdftotext", "/usr/local/bin/pdftotext", "/opt/homebrew/bin/pdftotext"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    static func extract(file: String, name: String) throws(TextExtractor.Failure) -> String {
        guard let program else {
            throw TextExtractor.Failure(
                message:
                    "\(name): PDF needs pdftotext from poppler (apt-get install poppler-utils), which is not installed")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = ["-enc", "UTF-8", "-q", file, "-"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch {
            throw TextExtractor.Failure(message: "\(name): cannot run pdftotext: \(error)")
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TextExtractor.Failure(
                message: "\(name): not a readable PDF (pdftotext exit \(process.terminationStatus))")
        }
        let text = String(decoding: data, as: UTF8.self)
        var pages: [String] = []
        for (index, page) in text.split(separator: "\u{0C}", omittingEmptySubsequences: false).enumerated() {
            let paragraphs = page.components(separatedBy: "\n\n").map {
                $0.split(whereSeparator: \.isNewline).joined(separator: " ").trimmingCharacters(in: .whitespaces)
            }.filter { !$0.isEmpty }
            if !paragraphs.isEmpty {
                pages.append("--- Page \(index + 1) ---\n\n" + paragraphs.joined(separator: "\n\n"))
            }
        }
        return pages.joined(separator: "\n\n")
    }
}
