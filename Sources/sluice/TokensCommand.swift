import ArgumentParser
import Foundation
import SluiceCore
import Tokenizer

struct TokensCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokens",
        abstract: "Count tokens in files (or standard input) exactly as OpenAI's tokenizers do.",
        discussion: """
            Prints COUNT<TAB>FILE per file and a total line, or with --json one object per file per \
            line. Special-token text such as <|endoftext|> is counted as ordinary text. Files must be \
            UTF-8; a file that is not gets an error naming it (the others are still counted, and the \
            exit status is 1), unless --invalid-utf8 replace is given.
            """
    )

    @Option(help: "The encoding: o200k_base, cl100k_base or o200k_harmony (default o200k_base).")
    var encoding: String?

    @Option(help: "Choose the encoding from a model or Azure model name, e.g. gpt-4o-mini, gpt-35-turbo.")
    var model: String?

    @Flag(help: "One JSON object per file per line: {\"file\", \"tokens\"}.")
    var json = false

    @Flag(help: "Also print the token ids.")
    var ids = false

    @Option(help: "Threads for counting many files (default: the number of cores).")
    var jobs = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "What to do with bytes that are not UTF-8: reject (error naming the file) or replace (U+FFFD).")
    var invalidUtf8: InvalidUTF8Policy = .reject

    @Argument(help: "Files to count; standard input when none is given.")
    var files: [String] = []

    func validate() throws {
        if encoding != nil && model != nil { throw ValidationError("give --encoding or --model, not both") }
    }

    func run() throws {
        let chosen: BytePairEncoding
        if let model {
            let resolved = ModelEncoding.resolve(model: model)
            if let warning = resolved.warning { Terminal.warning(warning) }
            chosen = .encoding(resolved.encoding)
        } else {
            chosen = try BytePairEncoding.encoding(named: encoding ?? EncodingName.o200kBase.rawValue)
        }
        let inputs = files.isEmpty ? [TextInput.standardInputName] : files
        let counter = TokenCounter(encoding: chosen, threads: jobs)
        let policy = invalidUtf8
        var total = 0
        var failures = 0
        var output = OutputBuffer()
        counter.count(
            inputs, includeIDs: ids,
            load: { path throws(TokenizerError) in try TextInput.read(path, invalidUTF8: policy) }
        ) {
            name, result in
            switch result {
            case .success(let counted):
                total += counted.tokens
                output.write(line(for: counted))
            case .failure(let error):
                failures += 1
                output.flush()
                Terminal.error(error.message)
            }
        }
        if !json { output.write("\(total)\ttotal") }
        output.flush()
        if failures > 0 { throw ExitCode(1) }
    }

    private func line(for counted: CountedText) -> String {
        let idList = counted.ids.map { $0.map(String.init) } ?? []
        if json {
            var line = "{\"file\": \(JSONText.quoted(counted.name)), \"tokens\": \(counted.tokens)"
            if ids { line += ", \"ids\": [" + idList.joined(separator: ", ") + "]" }
            return line + "}"
        }
        var line = "\(counted.tokens)\t\(counted.name)"
        if ids { line += "\t" + idList.joined(separator: " ") }
        return line
    }
}

extension InvalidUTF8Policy: ExpressibleByArgument {}

/// Collects stdout lines and writes them in large blocks.
struct OutputBuffer {
    private var buffer: [UInt8] = []

    mutating func write(_ line: String) {
        buffer.append(contentsOf: line.utf8)
        buffer.append(0x0A)
        if buffer.count > 1 << 16 { flush() }
    }

    mutating func flush() {
        guard !buffer.isEmpty else { return }
        FileHandle.standardOutput.write(Data(buffer))
        buffer.removeAll(keepingCapacity: true)
    }
}
