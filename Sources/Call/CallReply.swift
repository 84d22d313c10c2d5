import Foundation
import SluiceCore

/// A call's result on its way to the JSONL and, in map-reduce pipelines, to its reduce job.
struct CallReply {
    let input: CallInput
    var record: CallRecord
    let pipeline: String
    let job: Job
    /// The reply's message, when the client read it already.
    var content: String? = nil

    /// The assistant message of the reply's first choice.
    var text: String? {
        if let content { return content }
        guard let body = record.body,
            let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
            let choices = object["choices"] as? [[String: Any]],
            let message = choices.first?["message"] as? [String: Any]
        else { return nil }
        return message["content"] as? String
    }

    /// What this call and the calls before it (a reduce's inputs) cost.
    var cumulativeCost: Double { (input.inputsCost ?? 0) + (record.cost?.total ?? 0) }

    /// The collect job of the JSONL line.
    func line(suffix: String = "") throws -> NewJob {
        var line = CollectInput(
            document: input.document, chunk: input.chunk, chunks: input.chunks, customID: input.customID,
            pipeline: pipeline, record: record)
        line.headingPath = input.headingPath
        line.page = input.page
        line.reduce = input.reduce
        if input.reduce?.final == true { line.documentCost = cumulativeCost }
        return try NewJob(runID: job.runID, stage: .collect, key: job.key + suffix, encoding: line)
    }

    /// The part for the reduce job that waits for this result, if one does: the parsed JSON of a
    /// structured reply, else its text.
    func parts() throws -> [JobPart] {
        guard let delivery = input.delivery else { return [] }
        let part = ReducePart(index: delivery.part, text: record.output ?? text ?? "", cost: cumulativeCost)
        return [
            JobPart(
                runID: job.runID, key: delivery.key, part: delivery.part, payload: try JSONEncoder.sluice.encode(part))
        ]
    }
}
