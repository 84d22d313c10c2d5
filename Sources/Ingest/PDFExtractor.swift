import Foundation
import Tools

/// Text from PDF in reading order, page by page, with poppler's `pdftotext` (found on `PATH`).
enum PDFExtractor {
    /// How long one PDF may take by default.
    static let defaultTimeout: Duration = .seconds(120)

    static func extract(file: String, name: String, limits: TextExtractor.Limits) async throws(TextExtractor.Failure)
        -> String
    {
        let tool = ExternalTool(
            "pdftotext", arguments: ["-enc", "UTF-8", "-q", file, "-"], timeout: limits.toolTimeout,
            outputLimit: Int(clamping: limits.maxPartBytes))
        let outcome: ExternalTool.Outcome
        do {
            outcome = try await tool.run()
        } catch {
            switch error.reason {
            case .notFound:
                throw TextExtractor.Failure(
                    message:
                        "\(name): PDF needs pdftotext from poppler (apt-get install poppler-utils), not found on PATH")
            case .timedOut:
                throw TextExtractor.Failure(
                    message:
                        "\(name): pdftotext did not finish within \(limits.toolTimeout) (files.extract_timeout); stopped"
                )
            case .outputTooLarge:
                throw TextExtractor.Failure(
                    message:
                        "\(name): its text is larger than \(limits.maxPartBytes) bytes (files.max_part_size); not read")
            case .cancelled:
                throw TextExtractor.Failure(message: "\(name): not read, the run is stopping", cancelled: true)
            case .cannotStart:
                throw TextExtractor.Failure(message: "\(name): \(error.message)")
            }
        }
        guard outcome.succeeded else {
            let reason = outcome.exitStatus.map { "exit \($0)" } ?? "signal \(outcome.signal ?? 0)"
            let detail = outcome.errorText.split(whereSeparator: \.isNewline).first.map { ": " + $0 } ?? ""
            throw TextExtractor.Failure(message: "\(name): not a readable PDF (pdftotext \(reason)\(detail))")
        }
        let text = String(decoding: outcome.output, as: UTF8.self)
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
