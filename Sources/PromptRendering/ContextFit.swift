import Foundation
import SluiceCore

/// Whether a rendered request fits its model's context window, checked before it is sent.
package struct ContextFit: Sendable {
    /// The model's context window, in tokens.
    package let contextWindow: Int
    /// The model's name, for the message.
    package let model: String
    /// Choices per request (`n`): the charge counts max_tokens once per choice.
    package let n: Int

    /// - Parameters:
    ///   - n: Choices per request (at least 1).
    package init(contextWindow: Int, model: String, n: Int) {
        self.contextWindow = contextWindow
        self.model = model
        self.n = max(1, n)
    }

    /// Why a request cannot fit the model's context; nil when it fits.
    package func overflow(_ call: CallInput) -> String? {
        let maxTokens = call.charge / n - call.promptTokens
        let total = call.promptTokens + maxTokens
        guard total > contextWindow else { return nil }
        let what = call.reduce.map { "reduce level \($0.level) group \($0.group + 1)" } ?? "chunk \(call.chunk + 1)"
        return
            "\(call.document.path) \(what): the prompt is \(call.promptTokens) tokens and max_tokens \(maxTokens), \(total) in all: \(total - contextWindow) over \(model)'s context of \(contextWindow) (smaller chunking.max_tokens or max_tokens)"
    }

    /// The terminal failure of a job whose request does not fit: its error line, and the document's
    /// reduce (if one waits for this result) is abandoned.
    package static func failure(_ job: Job, _ call: CallInput, pipeline: String, message: String) throws -> JobFailure {
        let record = CallRecord(
            statusCode: nil, requestID: nil, body: nil, errorCode: ErrorClass.contextOverflow.rawValue,
            errorMessage: message, deployment: "", model: nil, attempts: 0, latencyMilliseconds: 0, usage: nil)
        let line = CollectInput(call: call, pipeline: pipeline, record: record)
        return JobFailure(
            jobID: job.id, errorClass: .contextOverflow, message: message, retryAt: nil,
            next: [try NewJob(runID: job.runID, stage: .collect, key: job.key + "!overflow", encoding: line)],
            abandons: call.delivery.map {
                [JobAbandon(runID: job.runID, key: $0.key, message: "a part cannot be called: \(message)")]
            } ?? [])
    }
}
