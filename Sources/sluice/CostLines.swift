import Foundation
import Queue

/// An amount of money for people: cents for amounts of a dollar or more, more digits below.
func money(_ amount: Double) -> String {
    amount >= 1 || amount == 0 ? String(format: "$%.2f", amount) : String(format: "$%.4f", amount)
}

/// The spend record as lines: per deployment and model, per document, the dearest documents.
func spendLines(_ report: SpendReport) -> [String] {
    guard !report.lines.isEmpty else { return ["cost: nothing spent yet"] }
    var lines = [
        "cost: \(money(report.total)) at list price for \(report.calls) calls over \(report.documents) documents (\(money(report.perDocument)) per document)"
    ]
    for line in report.lines {
        var text =
            "  \(line.deployment) (\(line.model)): \(money(line.cost)), \(line.calls) calls, \(line.promptTokens) prompt tokens (\(line.cachedTokens) cached), \(line.completionTokens) completion tokens (\(line.reasoningTokens) reasoning)"
        if line.unpricedCalls > 0 { text += ", \(line.unpricedCalls) calls not priced (provisioned or no list price)" }
        lines.append(text)
    }
    if !report.dearest.isEmpty {
        lines.append(
            "  dearest documents: "
                + report.dearest.map { "\($0.document) \(money($0.cost)) (\($0.calls) calls)" }.joined(separator: ", "))
    }
    return lines
}
