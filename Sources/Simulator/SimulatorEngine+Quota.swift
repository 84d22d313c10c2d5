import Foundation

/// Azure's quota rules, as the facts file states them: standard deployments count a per-minute TPM
/// (charged at arrival) and requests per RPM window; provisioned ones are a leaky bucket.
extension SimulatorEngine {
    static func admit(_ deployment: inout DeploymentState, charge: Int, now: Double) -> Result<
        [(String, String)], SimulatedResponse
    > {
        switch deployment.deployment.kind {
        case .unlimited, .batch:
            // A batch deployment's lines are admitted when their batch passed its enqueued-token quota.
            return .success([])
        case .exhausted:
            return .failure(
                rateLimited(
                    "Requests to the ChatCompletions_Create Operation have exceeded the daily token quota of your current pricing tier. Please retry after 86400 seconds.",
                    retryAfter: 86_400, remainingTokens: 0, remainingRequests: 0))
        case .standard(let tpm, let rpm, let windowSeconds):
            let minute = Int(now / 60)
            if minute != deployment.minute {
                deployment.minute = minute
                deployment.tokensThisMinute = 0
                deployment.requestsThisMinute = 0
            }
            let window = Int(now / windowSeconds)
            if window != deployment.rpmWindow {
                deployment.rpmWindow = window
                deployment.requestsThisWindow = 0
            }
            let windowLimit = max(1, Int(Double(rpm) * windowSeconds / 60))
            // Remaining tokens count down the minute's TPM; remaining requests the RPM window's share.
            func refuse(_ limit: String, until reset: Double) -> Result<[(String, String)], SimulatedResponse> {
                let wait = max(1, Int((reset - now).rounded(.up)))
                var response = rateLimited(
                    "Requests to the ChatCompletions_Create Operation have exceeded \(limit) rate limit of your current pricing tier. Please retry after \(wait) seconds.",
                    retryAfter: wait, remainingTokens: tpm - deployment.tokensThisMinute,
                    remainingRequests: windowLimit - deployment.requestsThisWindow)
                response.headers.append(contentsOf: [
                    ("x-ratelimit-limit-tokens", String(tpm)), ("x-ratelimit-limit-requests", String(rpm)),
                ])
                return .failure(response)
            }
            if deployment.requestsThisWindow >= windowLimit {
                return refuse("call", until: Double(window + 1) * windowSeconds)
            }
            if deployment.tokensThisMinute + charge > tpm { return refuse("token", until: Double(minute + 1) * 60) }
            deployment.tokensThisMinute += charge
            deployment.requestsThisMinute += 1
            deployment.requestsThisWindow += 1
            return .success([
                ("x-ratelimit-limit-tokens", String(tpm)), ("x-ratelimit-limit-requests", String(rpm)),
                ("x-ratelimit-remaining-tokens", String(max(0, tpm - deployment.tokensThisMinute))),
                ("x-ratelimit-remaining-requests", String(max(0, windowLimit - deployment.requestsThisWindow))),
            ])
        case .provisioned(let tpm, _, let bucketSeconds):
            let rate = Double(tpm) / 60
            drain(&deployment, rate: rate, until: now)
            let capacity = rate * bucketSeconds
            let utilization = deployment.bucketLevel / capacity
            if utilization > 1 {
                let waitSeconds = (deployment.bucketLevel - capacity) / rate
                let milliseconds = max(1, Int((waitSeconds * 1000).rounded(.up)))
                var response = rateLimited(
                    "Requests to the ChatCompletions_Create Operation have exceeded the provisioned throughput of this deployment. Please retry after \(milliseconds) milliseconds.",
                    retryAfter: max(1, Int(waitSeconds.rounded(.up))), remainingTokens: nil, remainingRequests: nil)
                response.headers.append(("retry-after-ms", String(milliseconds)))
                response.headers.append(
                    ("azure-openai-deployment-utilization", String(format: "%.1f%%", utilization * 100)))
                return .failure(response)
            }
            deployment.bucketLevel += Double(charge)
            return .success([
                (
                    "azure-openai-deployment-utilization",
                    String(format: "%.1f%%", deployment.bucketLevel / capacity * 100)
                )
            ])
        }
    }

    /// Drains the provisioned bucket up to `now`, applying each correction at its own time.
    static func drain(_ deployment: inout DeploymentState, rate: Double, until now: Double) {
        func drain(to time: Double) {
            let amount = min(deployment.bucketLevel, max(0, time - deployment.bucketTime) * rate)
            deployment.drained += amount
            deployment.bucketLevel -= amount
            deployment.bucketTime = max(deployment.bucketTime, time)
        }
        var applied = 0
        for correction in deployment.corrections {
            guard correction.due <= now else { break }
            drain(to: correction.due)
            deployment.bucketLevel = max(0, deployment.bucketLevel + correction.delta)
            applied += 1
        }
        deployment.corrections.removeFirst(applied)
        drain(to: now)
    }

    static func rateLimited(_ message: String, retryAfter: Int, remainingTokens: Int?, remainingRequests: Int?)
        -> SimulatedResponse
    {
        var response = errorResponse(429, "RateLimitReached", message)
        response.headers.append(("retry-after", String(retryAfter)))
        if let remainingTokens {
            response.headers.append(("x-ratelimit-remaining-tokens", String(max(0, remainingTokens))))
        }
        if let remainingRequests {
            response.headers.append(("x-ratelimit-remaining-requests", String(max(0, remainingRequests))))
        }
        return response
    }
}
