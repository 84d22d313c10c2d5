import Foundation

extension Governor {
    /// A warning when replies use far less than the max_tokens reserved for them, once enough calls are in.
    var overReservation: String? {
        guard answered >= 50, reservedOutput > 0 else { return nil }
        let meanReserved = Double(reservedOutput) / Double(calls)
        let meanUsed = Double(completionTokens) / Double(answered)
        guard meanUsed < meanReserved * 0.5 else { return nil }
        let meanPrompt = Double(promptTokens) / Double(answered)
        let gain = (meanPrompt + meanReserved) / (meanPrompt + max(meanUsed * 1.2, 1)) - 1
        return quota.name
            + String(
                format:
                    ": replies average %.0f tokens but max_tokens reserves %.0f; Azure charges the reservation at admission, so a max_tokens near %.0f would let about %.0f%% more requests through",
                meanUsed, meanReserved, (meanUsed * 1.2).rounded(.up), gain * 100)
    }

    func status(now: Double) -> DeploymentStatus {
        let recent = admissions[admissionsStart...].filter { $0.time >= now - 60 }
        var state = "ready"
        if let stopped {
            state = "stopped: " + stopped
        } else if let openUntil = circuitOpenUntil, now < openUntil {
            state = String(format: "circuit open for %.0f s", openUntil - now)
        } else if now < pausedUntil {
            state = String(format: "paused %.1f s (429)", pausedUntil - now)
        }
        let limit: Int?
        switch quota.kind {
        case .standard: limit = tokensPerMinute
        case .provisioned(_, let tpm): limit = tpm
        }
        var status = DeploymentStatus(
            name: quota.name, kind: quota.isProvisioned ? "provisioned" : "standard", inFlight: inFlight,
            concurrency: concurrency, tokensLastMinute: Int(recent.reduce(0) { $0 + $1.charge }.rounded()),
            tokensPerMinuteLimit: limit, requestsLastMinute: recent.count, rateLimited: rateLimited,
            failures: failures, calls: calls, meanLatencySeconds: calls > 0 ? latencyTotal / Double(calls) : 0,
            state: state)
        if configuration.calibrates {
            if quota.isProvisioned {
                status.chargeRatio = provisionedUsage.promptRatio
                status.utilization = lastUtilization
            } else {
                status.chargeRatio = sharesBucket ? (sharedRatio ?? 1) : calibration.ratio
                status.othersTokensPerMinute = calibration.othersPerMinute.map { Int($0.rounded()) }
            }
        }
        return status
    }
}
