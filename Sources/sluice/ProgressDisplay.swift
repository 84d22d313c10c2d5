import Foundation
import Pipeline
import SluiceCore
import Synchronization

/// Live progress on stderr: a line rewritten in place on a terminal, periodic lines otherwise.
final class ProgressDisplay: Sendable {
    private let isTerminal = isatty(STDERR_FILENO) == 1
    private let interval: Double
    private let last = Mutex<Date>(.distantPast)

    init(interval: Double) { self.interval = interval }

    func show(_ progress: RunProgress) {
        for warning in progress.warnings {
            FileHandle.standardError.write(
                Data(((isTerminal ? "\r\u{1B}[K" : "") + "sluice: warning: \(warning)\n").utf8))
        }
        let now = Date()
        let due = last.withLock { last -> Bool in
            guard isTerminal || now.timeIntervalSince(last) >= interval else { return false }
            last = now
            return true
        }
        guard due else { return }
        let line = Self.format(progress)
        if isTerminal {
            FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
        } else {
            FileHandle.standardError.write(Data(("sluice: " + line + "\n").utf8))
        }
    }

    func finish() {
        if isTerminal { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    static func format(_ progress: RunProgress) -> String {
        let statistics = progress.statistics
        let stages = Stage.allCases.map { stage -> String in
            let done = statistics.count(stage, .done)
            let failed = statistics.count(stage, .failed)
            let total = JobState.allCases.reduce(0) { $0 + statistics.count(stage, $1) }
            return "\(stage.rawValue) \(done)/\(total)" + (failed > 0 ? " (\(failed) failed)" : "")
        }
        var line = stages.joined(separator: " · ")
        line += String(format: " · %.1f calls/s · %.0f tokens/min", progress.callsPerSecond, progress.tokensPerMinute)
        if progress.rateLimited > 0 { line += " · \(progress.rateLimited) × 429" }
        if progress.cost > 0 {
            line += " · " + money(progress.cost)
            if progress.costByDeployment.count > 1 {
                line +=
                    " ("
                    + progress.costByDeployment.sorted { $0.key < $1.key }.map { "\($0.key) \(money($0.value))" }
                    .joined(
                        separator: ", ") + " this run)"
            }
        }
        if !progress.batches.isEmpty {
            let held = progress.batches.filter { $0.step != .collected }
            let running = held.filter { $0.step == .submitted }
            line +=
                " · batches: \(running.count) running, \(held.count - running.count) starting or collecting (\(held.reduce(0) { $0 + $1.lines }) calls)"
        }
        if let eta = progress.etaSeconds { line += String(format: " · ETA %.0f s", eta) }
        return line
    }
}
