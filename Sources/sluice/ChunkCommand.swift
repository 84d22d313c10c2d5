import ArgumentParser
import Chunk
import Foundation
import Ingest
import SluiceCore
import Tokenizer

struct ChunkCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chunk",
        abstract: "Show how documents are cut into chunks: token counts and heading paths.",
        discussion: """
            Plain mode prints a header per chunk (file, index, tokens, heading path, page) and its text. \
            With --json one object per chunk per line: {"file", "chunk", "chunks", "tokens", "heading_path", \
            "page", "text"}. A file that cannot be extracted gets an error naming it and the exit status is 1.
            """
    )

    @Option(help: "Most tokens per chunk.")
    var maxTokens: Int

    @Option(help: "Tokens of overlap between consecutive chunks.")
    var overlap = 0

    @Option(help: "The encoding: o200k_base, cl100k_base or o200k_harmony.")
    var encoding = "o200k_base"

    @Flag(help: "One JSON object per chunk per line.")
    var json = false

    @Argument(help: "Documents to chunk.")
    var files: [String]

    func validate() throws {
        guard maxTokens >= 16 else { throw ValidationError("--max-tokens must be at least 16") }
        guard overlap >= 0, overlap * 2 <= maxTokens else {
            throw ValidationError("--overlap must be between 0 and half of --max-tokens")
        }
    }

    func run() async throws {
        let chunker = Chunker(
            encoding: try BytePairEncoding.encoding(named: encoding), maxTokens: maxTokens, overlapTokens: overlap)
        var failures = 0
        for file in files {
            do {
                let (sha, data) = try await TextExtractor.read(file: file)
                let blocks = try await TextExtractor.blocks(of: data, file: file, name: file)
                // The chunk stage's own code: what this prints is what a run sends.
                let document = DocumentRef(path: file, sha256: sha, size: Int64(data.count), mtime: 0)
                let chunks = ChunkWorker.promptInputs(ChunkInput(document: document, blocks: blocks), chunker: chunker)
                for chunk in chunks {
                    let path = (chunk.headingPath ?? []).joined(separator: " > ")
                    if json {
                        print(
                            "{\"file\":\(JSONText.quoted(file)),\"chunk\":\(chunk.chunk),\"chunks\":\(chunk.chunks),"
                                + "\"tokens\":\(chunk.tokens),\"heading_path\":\(JSONText.quoted(path)),"
                                + "\"page\":\(chunk.page.map(String.init) ?? "null"),\"text\":\(JSONText.quoted(chunk.text))}"
                        )
                    } else {
                        var header = "==> \(file) chunk \(chunk.chunk + 1)/\(chunk.chunks), \(chunk.tokens) tokens"
                        if !path.isEmpty { header += ", \(path)" }
                        if let page = chunk.page { header += ", page \(page)" }
                        print(header + " <==")
                        print(chunk.text)
                    }
                }
            } catch {
                failures += 1
                Terminal.error(error.message)
            }
        }
        if failures > 0 { throw ExitStatus.failures }
    }
}
