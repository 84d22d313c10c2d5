import Foundation
import SluiceTesting
import Testing
import Tokenizer

@Suite struct TokensCommandTests {
    let o200k = BytePairEncoding.encoding(.o200kBase)
    let cl100k = BytePairEncoding.encoding(.cl100kBase)
    let english = "The parties agree to a term of 24 months.\n\nTermination requires three months' notice."
    let german = "Die Vertragsparteien vereinbaren eine Laufzeit von 24 Monaten. Kündigung: drei Monate."

    @Test func countsFilesWithATotal() async throws {
        let directory = try TemporaryDirectory()
        let first = try directory.write("contract en.txt", Data(english.utf8))
        let second = try directory.write("vertrag.md", Data(german.utf8))
        let output = try await SluiceProcess.run(["tokens", first, second])
        #expect(output.status == 0)
        let lines = output.stdout.split(separator: "\n").map(String.init)
        #expect(
            lines == [
                "\(o200k.count(english))\t\(first)", "\(o200k.count(german))\t\(second)",
                "\(o200k.count(english) + o200k.count(german))\ttotal",
            ])
    }

    @Test func jsonWithIDsFromStandardInput() async throws {
        let output = try await SluiceProcess.run(
            ["tokens", "--json", "--ids", "--encoding", "cl100k_base"], stdin: Data(german.utf8))
        #expect(output.status == 0)
        let line = try #require(output.stdout.split(separator: "\n").first)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["file"] as? String == "-")
        #expect(object["tokens"] as? Int == cl100k.count(german))
        #expect(object["ids"] as? [Int] == cl100k.encode(german))
    }

    @Test func modelChoosesTheEncoding() async throws {
        let directory = try TemporaryDirectory()
        let file = try directory.write("a.txt", Data(english.utf8))
        let azure = try await SluiceProcess.run(["tokens", "--model", "gpt-35-turbo", "--json", file])
        #expect(azure.stdout.contains("\"tokens\": \(cl100k.count(english))"))
        #expect(azure.stderr.isEmpty)
        let unknown = try await SluiceProcess.run(["tokens", "--model", "contoso-llm-7", file])
        #expect(unknown.status == 0)
        #expect(unknown.stderr.contains("contoso-llm-7"))
        #expect(unknown.stdout.hasPrefix("\(o200k.count(english))\t"))
    }

    @Test func invalidUTF8NamesTheFileAndTheRunGoesOn() async throws {
        let directory = try TemporaryDirectory()
        let bad = try directory.write("latin1.txt", Data([0x4B, 0xFC, 0x6E, 0x64, 0x69, 0x67, 0x75, 0x6E, 0x67]))
        let good = try directory.write("good.txt", Data(english.utf8))
        let output = try await SluiceProcess.run(["tokens", bad, good])
        #expect(output.status == 1)
        #expect(output.stderr.contains(bad))
        #expect(output.stderr.contains("offset 1"))
        #expect(output.stdout.contains("\(o200k.count(english))\t\(good)"))
        let replaced = try await SluiceProcess.run(["tokens", "--invalid-utf8", "replace", bad])
        #expect(replaced.status == 0)
        #expect(replaced.stdout.hasPrefix("\(o200k.count("K\u{FFFD}ndigung"))\t"))
    }

    @Test func manyFilesInParallelKeepTheirOrder() async throws {
        let directory = try TemporaryDirectory()
        var files: [String] = []
        var expected: [String] = []
        for index in 0..<300 {
            let text = String(repeating: "word\(index) ", count: index % 17 + 1)
            files.append(try directory.write("f\(index).txt", Data(text.utf8)))
            expected.append("\(o200k.count(text))\t\(files[index])")
        }
        let output = try await SluiceProcess.run(["tokens", "--jobs", "2"] + files)
        #expect(output.status == 0)
        #expect(Array(output.stdout.split(separator: "\n").map(String.init).dropLast()) == expected)
    }
}
