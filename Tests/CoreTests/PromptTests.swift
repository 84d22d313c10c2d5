import Foundation
import PromptRendering
import SluiceCore
import Testing
import Tokenizer

@Suite struct PromptTests {
    let pipeline = PipelineDefinition(
        name: "summarize", model: "gpt-4o-mini", deployment: "d1",
        messages: [
            .init(role: "system", template: "Answer in {{language}}."),
            .init(role: "user", template: "{{document.name}} part {{chunk.number}}/{{chunk.count}}:\n{{chunk.text}}"),
        ], maxTokens: 300, temperature: 0.2, chunking: .init(maxTokens: 500, overlapTokens: 0),
        variables: ["language": "German"])
    let document = DocumentRef(path: "reports/q4 <draft>.md", sha256: "ab12", size: 10, mtime: 1)

    @Test func rendersTemplatesWithoutEscapingAndChargesLikeAzure() throws {
        let renderer = try PromptRenderer(pipeline: pipeline, pipelineHash: "h1")
        let input = PromptInput(document: document, chunk: 1, chunks: 3, text: "Revenue & costs <rose>.", tokens: 6)
        let call = try renderer.render(input)
        let body = try #require(try JSONSerialization.jsonObject(with: call.body) as? [String: Any])
        let messages = try #require(body["messages"] as? [[String: String]])
        #expect(messages[0] == ["role": "system", "content": "Answer in German."])
        #expect(messages[1]["content"] == "q4 <draft>.md part 2/3:\nRevenue & costs <rose>.")
        #expect(body["max_tokens"] as? Int == 300)
        #expect(body["temperature"] as? Double == 0.2)
        #expect(body["model"] == nil)
        let encoding = BytePairEncoding.encoding(.o200kBase)
        let expected = encoding.estimatePromptTokens(
            messages.map { ChatMessage(role: $0["role"] ?? "", content: $0["content"] ?? "") })
        #expect(call.promptTokens == expected)
        #expect(call.charge == expected + 300)
    }

    @Test func unitKeysAndDigestsAreLowercaseHexOfSHA256() throws {
        // Expected values from Python's hashlib, not from the code under test.
        #expect(
            PromptRenderer.unitKey(documentSHA256: "abc", chunk: 0, pipelineHash: "def")
                == "bbef13fa2e53db0b340d16edf53e20f91d7fa6331f7fa4467de110ff4a8501cf")
        #expect(Hex.lowercase([0x00, 0x0F, 0xA5, 0xFF]) == "000fa5ff")
        #expect(Hex.lowercase([]) == "")
    }

    @Test func identityIsStableAndCoversWhatChangesARequest() throws {
        let hash = try PromptRenderer.hash(pipeline)
        var renamed = pipeline
        renamed.name = "other"
        renamed.deployment = "d2"
        #expect(try PromptRenderer.hash(renamed) == hash)
        var changed = pipeline
        changed.messages[0].template = "Answer briefly in {{language}}."
        #expect(try PromptRenderer.hash(changed) != hash)
        var otherModel = pipeline
        otherModel.model = "gpt-4.1"
        #expect(try PromptRenderer.hash(otherModel) != hash)
        let input = PromptInput(document: document, chunk: 0, chunks: 1, text: "x", tokens: 1)
        let first = try PromptRenderer(pipeline: pipeline, pipelineHash: hash).render(input)
        let again = try PromptRenderer(pipeline: pipeline, pipelineHash: hash).render(input)
        #expect(first.customID == again.customID)
        #expect(first.customID.hasPrefix("sluice-"))
        let otherChunk = try PromptRenderer(pipeline: pipeline, pipelineHash: hash).render(
            PromptInput(document: document, chunk: 1, chunks: 2, text: "x", tokens: 1))
        #expect(otherChunk.customID != first.customID)
    }

    @Test func reasoningModelsSendMaxCompletionTokens() throws {
        var reasoning = pipeline
        reasoning.useMaxCompletionTokens = true
        let call = try PromptRenderer(pipeline: reasoning, pipelineHash: "h").render(
            PromptInput(document: document, chunk: 0, chunks: 1, text: "x", tokens: 1))
        #expect(String(decoding: call.body, as: UTF8.self).contains("\"max_completion_tokens\":300"))
        #expect(!String(decoding: call.body, as: UTF8.self).contains("\"max_tokens\""))
    }
}
