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
            let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
            let choices = object["choices"] as? [[String: Any]],
            let message = choices.first?["message"] as? [String: Any]
        else { return nil }
        return message["content"] as? String
    }

    /// What this call and the calls before it (a reduce's inputs) cost.
    var cumulativeCost: Double { (input.inputsCost ?? 0) + (record.cost?.total ?? 0) }

    /// The collect job of the JSONL line: a success points at the unit's stored result (committed with
    /// it, or stored before); a failure carries its record, and a kept reply body as the job's bytes.
    func line(suffix: String = "") throws -> NewJob {
        let stored = record.errorCode == nil
        var line = CollectInput(
            call: input, pipeline: pipeline, record: stored ? nil : record, unitKey: stored ? input.unitKey : nil)
        if input.reduce?.final == true { line.documentCost = cumulativeCost }
        return try NewJob(
            runID: job.runID, stage: .collect, key: job.key + suffix, encoding: line, body: stored ? nil : record.body)
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
