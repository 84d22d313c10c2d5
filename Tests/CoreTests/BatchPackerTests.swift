import Call
import Foundation
import Testing

/// Packing requests into Batch API input files: Azure's limits per file and the enqueued-token quota.
@Suite struct BatchPackerTests {
    static func requests(_ count: Int, tokens: Int = 100, from start: Int = 0) -> [BatchPacker.Request] {
        (start..<(start + count)).map {
            BatchPacker.Request(
                customID: "c-\($0)",
                body: Data(#"{"max_tokens":20,"messages":[{"role":"user","content":"n\#($0)"}]}"#.utf8),
                inputTokens: tokens)
        }
    }

    @Test func linesAreAzuresFormatWithTheDeploymentAsModel() throws {
        let packer = BatchPacker(deployment: "gpt4o-batch", enqueuedTokens: 1_000)
        let file = try #require(packer.pack(Self.requests(2), inFlightTokens: 0).files.first)
        #expect(!file.content.starts(with: [0xEF, 0xBB, 0xBF]) && file.content.last == UInt8(ascii: "\n"))
        let lines = file.content.split(separator: UInt8(ascii: "\n"))
        #expect(lines.count == 2 && file.customIDs == ["c-0", "c-1"] && file.inputTokens == 200)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(lines[1])) as? [String: Any])
        #expect(object["custom_id"] as? String == "c-1" && object["method"] as? String == "POST")
        #expect(object["url"] as? String == "/chat/completions")
        let body = try #require(object["body"] as? [String: Any])
        #expect(body["model"] as? String == "gpt4o-batch" && body["max_tokens"] as? Int == 20)
        #expect((body["messages"] as? [[String: Any]])?.first?["content"] as? String == "n1")
        // An empty body still makes a valid line.
        let empty = packer.line(BatchPacker.Request(customID: "e", body: Data("{}".utf8), inputTokens: 0))
        let parsed = try #require(try JSONSerialization.jsonObject(with: empty) as? [String: Any])
        #expect((parsed["body"] as? [String: Any])?["model"] as? String == "gpt4o-batch")
    }

    @Test func theQuotaLeftBoundsWhatIsPackedAndTheRestWaitsInOrder() {
        // 1,000 tokens of quota, 350 held by batches in flight: 650 left, six requests of 100.
        let packer = BatchPacker(deployment: "b", enqueuedTokens: 1_000)
        let packing = packer.pack(Self.requests(10), inFlightTokens: 350)
        #expect(packing.files.flatMap(\.customIDs) == (0..<6).map { "c-\($0)" })
        #expect(packing.files.reduce(0) { $0 + $1.inputTokens } == 600)
        #expect(packing.waiting.map(\.customID) == (6..<10).map { "c-\($0)" })
        // Nothing left: nothing packed.
        #expect(packer.pack(Self.requests(3), inFlightTokens: 1_000).files.isEmpty)
    }

    @Test func filesSplitAtTheLineAndByteLimits() {
        var packer = BatchPacker(deployment: "b", enqueuedTokens: 1_000_000)
        packer.maxLines = 4
        let byLines = packer.pack(Self.requests(10), inFlightTokens: 0)
        #expect(byLines.files.map(\.customIDs.count) == [4, 4, 2])
        packer.maxLines = 100_000
        let lineBytes = packer.line(Self.requests(1)[0]).count + 1
        packer.maxBytes = lineBytes * 3 + lineBytes / 2
        let byBytes = packer.pack(Self.requests(7), inFlightTokens: 0)
        #expect(byBytes.files.map(\.customIDs.count) == [3, 3, 1])
        #expect(byBytes.files.allSatisfy { $0.content.count <= packer.maxBytes })
    }

    @Test func whatNoBatchCanTakeIsSetApartAndAFileNeverRepeatsAnID() {
        let packer = BatchPacker(deployment: "b", enqueuedTokens: 500)
        var requests = Self.requests(2)
        requests.insert(BatchPacker.Request(customID: "huge", body: Data("{}".utf8), inputTokens: 501), at: 1)
        requests.append(requests[0])
        let packing = packer.pack(requests, inFlightTokens: 0)
        #expect(packing.tooLarge.map(\.request.customID) == ["huge"])
        #expect(packing.tooLarge.first?.reason.contains("501 input tokens") == true)
        #expect(packing.files.map(\.customIDs) == [["c-0", "c-1"], ["c-0"]])
    }
}
