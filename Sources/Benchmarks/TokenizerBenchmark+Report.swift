import Foundation

extension TokenizerBenchmark.Report {
    /// The report as a table for people.
    package func formatted() -> String {
        let megabytes = Double(bytes) / 1e6
        func rate(_ seconds: Double) -> String { String(format: "%7.1f MB/s", megabytes / seconds) }
        func tokenRate(_ tokens: Int, _ seconds: Double) -> String {
            String(format: "%6.2f M tokens/s", Double(tokens) / seconds / 1e6)
        }
        var lines: [String] = []
        lines.append(String(format: "corpus: %d documents, %.1f MB (MB = 10^6 bytes)", documents, megabytes))
        for source in sources { lines.append("  from \(source)") }
        lines.append("best of \(rounds) rounds; parallel runs use \(threads) threads")
        for name in loadMilliseconds.keys.sorted() {
            lines.append(
                String(format: "load %@: %.1f ms (first use in this process)", name, loadMilliseconds[name] ?? 0))
        }
        for name in processMilliseconds.keys.sorted() {
            lines.append(
                String(
                    format: "fresh `sluice tokens --encoding %@` process, start to exit: %.1f ms", name,
                    processMilliseconds[name] ?? 0))
        }
        for figures in encodings {
            lines.append("")
            lines.append("\(figures.encoding): \(figures.tokens) tokens")
            lines.append(
                "  sluice encode, 1 thread    \(rate(figures.encodeSeconds))  \(tokenRate(figures.tokens, figures.encodeSeconds))"
            )
            lines.append(
                "  sluice count, 1 thread     \(rate(figures.countSeconds))  \(tokenRate(figures.tokens, figures.countSeconds))"
            )
            lines.append(
                "  sluice count, \(threads) threads    \(rate(figures.parallelCountSeconds))  "
                    + tokenRate(figures.tokens, figures.parallelCountSeconds)
                    + String(format: "  (%.2fx one thread)", figures.countSeconds / figures.parallelCountSeconds))
            if let reference = figures.reference {
                lines.append(
                    "  tiktoken encode, 1 thread  \(rate(reference.encodeSeconds))  \(tokenRate(reference.tokens, reference.encodeSeconds))"
                )
                lines.append("  tiktoken batch, \(threads) threads  \(rate(reference.parallelEncodeSeconds))")
                let same = reference.tokens == figures.tokens && reference.checksum == figures.checksum
                lines.append(
                    String(
                        format: "  ratio, 1 thread: %.2fx tiktoken (encode), %.2fx (count); %d threads: %.2fx",
                        reference.encodeSeconds / figures.encodeSeconds, reference.encodeSeconds / figures.countSeconds,
                        threads, reference.parallelEncodeSeconds / figures.parallelCountSeconds))
                lines.append(
                    same ? "  ids identical to tiktoken's on the whole corpus" : "  IDS DIFFER FROM TIKTOKEN'S")
            }
        }
        if let referenceNote { lines.append(""); lines.append("reference: \(referenceNote)") }
        return lines.joined(separator: "\n")
    }

    /// The report as one JSON object.
    package func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}
