import Call
import Chunk
import Foundation
import Ingest
import SluiceCore
import Synchronization
import Tokenizer

/// `sluice-bench ingest DIR`: extraction and extraction + chunking throughput per format.
package struct IngestBenchmark: Sendable {
    package struct FormatFigures: Sendable, Codable {
        package var format: String
        package var documents: Int
        package var bytes: Int
        /// For ZIP-based formats: the uncompressed XML inside.
        package var xmlBytes: Int?
        package var failures: Int
        package var extractSeconds: Double
        package var extractAndChunkSeconds: Double
        package var parallelExtractAndChunkSeconds: Double
    }

    package struct Report: Sendable, Codable {
        package var directory: String
        package var threads: Int
        package var maxTokens: Int
        package var formats: [FormatFigures]
    }

    package var threads: Int
    package var maxTokens: Int

    package init(threads: Int, maxTokens: Int = 500) {
        self.threads = max(1, threads)
        self.maxTokens = maxTokens
    }

    package func run(directory: String) async throws -> Report {
        let (entries, _) = try DirectoryWalker(hidden: false).walk(root: directory)
        var byFormat: [String: [(String, Data)]] = [:]
        for entry in entries {
            guard let data = FileManager.default.contents(atPath: entry.file) else { continue }
            byFormat[TextExtractor.format(of: entry.path), default: []].append((entry.file, data))
        }
        let chunker = Chunker(encoding: .encoding(.o200kBase), maxTokens: maxTokens, overlapTokens: 0)
        var figures: [FormatFigures] = []
        for format in byFormat.keys.sorted() {
            let files = byFormat[format] ?? []
            var failures = 0
            let extractSeconds = await Self.time {
                for (file, data) in files where (try? await TextExtractor.text(of: data, file: file, name: file)) == nil
                {
                    failures += 1
                }
            }
            let chunkSeconds = await Self.time {
                for (file, data) in files { _ = await Self.extractAndChunk(file, data, format, chunker) }
            }
            let parallel = await Self.time {
                // One task per thread, each taking every `threads`-th file.
                await withTaskGroup(of: Void.self) { group in
                    for first in 0..<threads {
                        group.addTask {
                            for index in stride(from: first, to: files.count, by: threads) {
                                _ = await Self.extractAndChunk(files[index].0, files[index].1, format, chunker)
                            }
                        }
                    }
                }
            }
            let zipped = ["docx", "pptx", "xlsx", "odt", "odp", "ods", "epub"].contains(format)
            let xml = zipped ? files.compactMap { TextExtractor.xmlBytes(ofArchive: $0.1) }.reduce(0, +) : 0
            figures.append(
                FormatFigures(
                    format: format, documents: files.count, bytes: files.reduce(0) { $0 + $1.1.count },
                    xmlBytes: xml > 0 ? xml : nil, failures: failures, extractSeconds: extractSeconds,
                    extractAndChunkSeconds: chunkSeconds, parallelExtractAndChunkSeconds: parallel))
        }
        return Report(directory: directory, threads: threads, maxTokens: maxTokens, formats: figures)
    }

    static func extractAndChunk(_ file: String, _ data: Data, _ format: String, _ chunker: Chunker) async -> Int {
        guard let text = try? await TextExtractor.text(of: data, file: file, name: file) else { return 0 }
        let blocks = TextBlock.blocks(of: text, format: format)
        let outline = DocumentOutline(blocks: blocks)
        let chunks = chunker.chunks(TextBlock.text(of: blocks))
        return chunks.reduce(0) { $0 + (outline.position(at: $1.offset).page ?? 0) + $1.tokens }
    }

    static func time(_ body: () async -> Void) async -> Double {
        let start = ContinuousClock.now
        await body()
        return (ContinuousClock.now - start).seconds
    }
}

extension IngestBenchmark.Report {
    /// A table for people.
    package func formatted() -> String {
        var lines = [
            "\(directory): extraction alone, then extraction + chunking (\(maxTokens)-token chunks); MB = 10^6 bytes"
        ]
        for figures in formats {
            let megabytes = Double(figures.bytes) / 1e6
            var line = String(
                format:
                    "%-6@ %5d docs %8.1f MB  extract %7.1f MB/s %7.0f docs/s | +chunk %7.1f MB/s | +chunk, %d threads %7.1f MB/s",
                figures.format, figures.documents, megabytes, megabytes / figures.extractSeconds,
                Double(figures.documents) / figures.extractSeconds, megabytes / figures.extractAndChunkSeconds,
                threads, megabytes / figures.parallelExtractAndChunkSeconds)
            if let xml = figures.xmlBytes {
                line += String(
                    format: " | XML %.1f MB: extract %.1f MB/s of XML", Double(xml) / 1e6,
                    Double(xml) / 1e6 / figures.extractSeconds)
            }
            if figures.failures > 0 { line += " | \(figures.failures) failed" }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }
}
