import Foundation
import Pipeline
import SluiceCore
import Testing

/// Configuration files are input like any other: alias bombs, numbers that overflow or are no
/// number at all end in an error naming the file and the field, never a hang or a trap.
@Suite struct ConfigurationLimitsTests {
    static let head = """
        name: x
        model: gpt-4o-mini
        max_tokens: 10
        messages: [{role: user, content: "Answer in JSON: {{chunk.text}}"}]

        """

    /// Seven levels of nine aliases: under 500 bytes, 4.8 million values once expanded.
    static let laughs = (0..<7).map { level -> String in
        let name = Character(UnicodeScalar(UInt8(97 + level)))
        let items =
            level == 0
            ? Array(repeating: "\"lol\"", count: 9)
            : Array(repeating: "*\(Character(UnicodeScalar(UInt8(96 + level))))", count: 9)
        return "\(name): &\(name) [\(items.joined(separator: ","))]"
    }

    func refused(_ text: String, file: String = "bad.yaml", _ fragments: String...) {
        #expect {
            _ = try PipelineFile.parse(text, file: file, defaultName: "x")
        } throws: { error in
            let message = (error as? SluiceError)?.message ?? "\(error)"
            return message.contains(file) && fragments.allSatisfy(message.contains)
        }
    }

    @Test func anAliasBombIsRefusedBeforeItExpands() throws {
        let schema =
            "response_format:\n  type: json_schema\n  name: s\n  schema:\n    type: object\n    x-bomb:\n"
            + Self.laughs.map { "      " + $0 }.joined(separator: "\n") + "\n"
        #expect((Self.head + schema).utf8.count < 700)
        refused(Self.head + schema, "alias")
        let deployments =
            "deployments:\n  a: {endpoint: x}\nx-bomb:\n" + Self.laughs.map { "  " + $0 }.joined(separator: "\n")
        #expect {
            _ = try DeploymentsFile.parse(deployments, file: "deployments.yaml")
        } throws: { error in
            ((error as? SluiceError)?.message ?? "").contains("deployments.yaml")
        }
        // A few aliases that share a message are fine.
        let shared = """
            name: x
            model: gpt-4o-mini
            max_tokens: 10
            variables: {tone: &tone "plain"}
            messages: [{role: system, content: *tone}, {role: user, content: "{{chunk.text}}"}]
            """
        #expect(try PipelineFile.parse(shared, file: "ok.yaml", defaultName: "x").messages.count == 2)
    }

    @Test func numbersThatOverflowOrAreNoNumberNameTheirField() {
        let base = "name: x\nmodel: gpt-4o-mini\nmessages: [{role: user, content: \"{{chunk.text}}\"}]\n"
        refused(base + "max_tokens: 10\nn: 9223372036854775807\n", "'n'", "at most")
        refused(base + "max_tokens: 9223372036854775807\n", "'max_tokens'")
        refused(base + "max_tokens: 10\nchunking: {max_tokens: 9223372036854775807}\n", "'chunking.max_tokens'")
        refused(base + "max_tokens: 10\ntemperature: .nan\n", "'temperature'", "finite")
        refused(base + "max_tokens: 10\ntemperature: .inf\n", "'temperature'")
        refused(base + "max_tokens: 10\ntop_p: 7\n", "'top_p'")
        #expect {
            _ = try DeploymentsFile.parse(
                "deployments:\n  a: {endpoint: x, timeout: .inf, max_concurrency: 99999999999}", file: "d.yaml")
        } throws: { error in
            let message = (error as? SluiceError)?.message ?? ""
            return message.contains("d.yaml")
                && (message.contains("'deployments.a.timeout'") || message.contains("max_concurrency"))
        }
    }
}
