import ArgumentParser
import Foundation
import Ingest
import SluiceCore

struct ExtractCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extract",
        abstract: "Print the text Sluice extracts from documents: what the model will see.",
        discussion: """
            Plain mode prints each file's text (a blank line between blocks, # marks for headings). With \
            --json one object per file per line: {"file", "format", "text", "blocks": [{"kind", "text", \
            "level"?, "page"?}], "warnings"}. A file that cannot be extracted gets an error naming it; the \
            others are still printed, and the exit status is 1.
            """
    )

    @Flag(help: "One JSON object per file per line.")
    var json = false

    @Argument(help: "Documents to extract.")
    var files: [String]

    func run() async throws {
        var failures = 0
        for file in files {
            do {
                let (_, data) = try await TextExtractor.read(file: file)
                let text = try await TextExtractor.text(of: data, file: file, name: file)
                if json {
                    let format = TextExtractor.format(of: file)
                    let blocks = TextBlock.blocks(of: text, format: format)
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                    let encodedBlocks = String(decoding: try encoder.encode(blocks), as: UTF8.self)
                    print(
                        "{\"file\":\(JSONText.quoted(file)),\"format\":\(JSONText.quoted(format)),"
                            + "\"text\":\(JSONText.quoted(text)),\"blocks\":\(encodedBlocks),\"warnings\":[]}")
                } else {
                    if files.count > 1 { print("==> \(file) <==") }
                    print(text)
                }
            } catch let failure as TextExtractor.Failure {
                failures += 1
                Terminal.error(failure.message)
            }
        }
        if failures > 0 { throw ExitStatus.failures }
    }
}
