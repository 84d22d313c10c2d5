import Foundation
import SluiceCore

/// One line of a run's JSONL output.
///
/// A superset of the OpenAI / Azure Batch API output line — `custom_id`, `response` (`status_code`,
/// `request_id`, `body`: the chat.completion exactly as the service sent it) and `error` — plus a
/// `sluice` object that joins the line back to its document.
package enum ResultLine {
    /// The line's bytes, ending in a newline.
    ///
    /// - Parameter record: The call's record with its body (the input's, or the stored result it points at).
    package static func make(_ input: CollectInput, record: CallRecord) -> [UInt8] {
        var line = Array(("{\"custom_id\":" + json(input.customID) + ",\"response\":").utf8)
        if let status = record.statusCode, let body = record.body, isJSONObject(body) {
            line += ("{\"status_code\":\(status),\"request_id\":" + (record.requestID.map(json) ?? "null")).utf8
            line += ",\"body\":".utf8
            appendSingleLine(body, to: &line)
            line.append(UInt8(ascii: "}"))
        } else {
            line += "null".utf8
        }
        var rest = ",\"error\":"
        if let code = record.errorCode {
            rest += "{\"code\":" + json(code) + ",\"message\":" + json(record.errorMessage ?? code) + "}"
        } else {
            rest += "null"
        }
        rest += ",\"sluice\":" + sluiceObject(input, record: record) + "}\n"
        line += rest.utf8
        return line
    }

    private static func sluiceObject(_ input: CollectInput, record: CallRecord) -> String {
        var fields: [String] = [
            "\"document\":" + json(input.document.path),
            "\"document_sha256\":" + json(input.document.sha256),
            // A reduce's or the document's line is no chunk's: a join on (document, chunk) must not match it.
            "\"chunk\":" + (input.reduce == nil ? String(input.chunk) : "null"),
            "\"chunks\":\(input.chunks)",
            "\"heading_path\":" + (input.headingPath.map { json($0.joined(separator: " > ")) } ?? "null"),
            "\"page\":" + (input.page.map(String.init) ?? "null"),
            "\"pipeline\":" + json(input.pipeline),
            "\"deployment\":" + json(record.deployment),
            "\"spilled_to\":" + (record.spilledTo.map(json) ?? "null"),
            "\"lane\":" + (record.batchID == nil ? "\"online\"" : "\"batch\""),
            "\"batch_id\":" + (record.batchID.map(json) ?? "null"),
            "\"model\":" + (record.model.map(json) ?? "null"),
            "\"attempts\":\(record.attempts)",
            "\"latency_ms\":\(record.latencyMilliseconds)",
        ]
        if let usage = record.usage, let data = try? JSONEncoder.sluice.encode(usage) {
            fields.append("\"usage\":" + String(decoding: data, as: UTF8.self))
        } else {
            fields.append("\"usage\":null")
        }
        if let cost = record.cost {
            fields.append(
                "\"cost\":{\"cached_input\":\(amount(cost.cachedInput)),\"input\":\(amount(cost.input)),"
                    + "\"model\":\(json(cost.model)),\"output\":\(amount(cost.output)),\"tier\":\(json(cost.tier)),"
                    + "\"total\":\(amount(cost.total))}")
        } else {
            fields.append("\"cost\":null")
        }
        // Map-reduce: a chunk's line, an intermediate reduce's, or the document's result.
        let kind = input.reduce.map { $0.final ? "document" : "reduce" } ?? "chunk"
        fields.append("\"kind\":" + json(kind))
        if let step = input.reduce {
            fields.append("\"reduce_level\":\(step.level)")
            fields.append("\"reduce_group\":\(step.group)")
        }
        if let total = input.documentCost { fields.append("\"document_cost\":\(amount(total))") }
        // Structured outputs: the reply's JSON, parsed and checked (its text is in the response body).
        fields.append("\"output\":" + (record.output.map(singleLine) ?? "null"))
        return "{" + fields.joined(separator: ",") + "}"
    }

    /// An amount of money in JSON: enough digits for fractions of a cent per call.
    static func amount(_ value: Double) -> String {
        guard value.isFinite else { return "null" }
        let scaled = (value * 1e9).rounded() / 1e9
        return scaled == scaled.rounded() && abs(scaled) < 1e15 ? String(Int(scaled)) : String(scaled)
    }

    static func json(_ text: String) -> String { JSONText.quoted(text) }

    /// The client stores a body only after parsing it as a JSON object; this guards against
    /// anything else reaching the line without parsing it again.
    private static func isJSONObject(_ bytes: Data) -> Bool {
        let first = bytes.first { $0 > 0x20 }
        let last = bytes.last { $0 > 0x20 }
        return first == UInt8(ascii: "{") && last == UInt8(ascii: "}")
    }

    /// JSON text on one line: raw line breaks can only be whitespace between tokens, never inside strings.
    private static func singleLine(_ text: String) -> String {
        text.contains(where: { $0 == "\n" || $0 == "\r" || $0 == "\r\n" })
            ? String(text.unicodeScalars.filter { $0 != "\n" && $0 != "\r" }.map(Character.init)) : text
    }

    /// JSON bytes on one line: raw line breaks can only be whitespace between tokens, never inside strings.
    private static func appendSingleLine(_ bytes: Data, to line: inout [UInt8]) {
        if bytes.contains(where: { $0 == 0x0A || $0 == 0x0D }) {
            line += bytes.lazy.filter { $0 != 0x0A && $0 != 0x0D }
        } else {
            line += bytes
        }
    }
}
