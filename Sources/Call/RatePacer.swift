import Foundation

/// Keeps one deployment under its tokens-per-minute and requests-per-minute limits.
///
/// Quota is released evenly, a second's worth at a time (no burst of a minute's budget at start),
/// and each request is charged Azure's estimate at admission. A 429 pauses the whole deployment
/// until its retry-after has passed.
public actor RatePacer {
    private let tokensPerSecond: Double?
    private let requestsPerSecond: Double?
    private var tokens: Double
    private var requests: Double
    private var last: ContinuousClock.Instant
    private var pausedUntil: ContinuousClock.Instant?

    public init(tokensPerMinute: Int?, requestsPerMinute: Int?) {
        tokensPerSecond = tokensPerMinute.map { Double($0) / 60 }
        requestsPerSecond = requestsPerMinute.map { Double($0) / 60 }
        tokens = tokensPerSecond ?? 0
        requests = requestsPerSecond.map { max(1, $0) } ?? 0
        last = .now
    }

    /// Waits until a request with this charge may be sent, then charges it.
    public func admit(charge: Int) async throws {
        while true {
            let now = ContinuousClock.now
            if let pausedUntil, now < pausedUntil {
                try await Task.sleep(until: pausedUntil, clock: .continuous)
                continue
            }
            refill(now)
            let tokenCapacity = tokensPerSecond ?? 0
            // A charge larger than a second's budget is admitted once a full second is available.
            let neededTokens = tokensPerSecond == nil ? 0 : min(Double(charge), tokenCapacity)
            let tokenWait =
                tokensPerSecond.map { rate in tokens >= neededTokens ? 0 : (neededTokens - tokens) / rate } ?? 0
            let requestWait = requestsPerSecond.map { rate in requests >= 1 ? 0 : (1 - requests) / rate } ?? 0
            let wait = max(tokenWait, requestWait)
            if wait <= 0 {
                if tokensPerSecond != nil { tokens -= Double(charge) }
                if requestsPerSecond != nil { requests -= 1 }
                return
            }
            try await Task.sleep(for: .milliseconds(Int(wait * 1000) + 1))
        }
    }

    /// Stops admitting requests for `seconds` (a 429's retry-after).
    public func pause(seconds: Double) {
        let until = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        if pausedUntil.map({ $0 < until }) ?? true { pausedUntil = until }
    }

    private func refill(_ now: ContinuousClock.Instant) {
        let elapsed = (now - last).seconds
        last = now
        if let rate = tokensPerSecond { tokens = min(rate, tokens + rate * elapsed) }
        if let rate = requestsPerSecond { requests = min(max(1, rate), requests + rate * elapsed) }
    }
}
