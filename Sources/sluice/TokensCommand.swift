import ArgumentParser
import Tokenizer

struct TokensCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tokens", abstract: "Count tokens.")
    @Argument var files: [String] = []
    func run() throws {
        let enc = BytePairEncoding.encoding(.o200kBase)
        print(enc.encode("hello world"))
    }
}
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench")
}
