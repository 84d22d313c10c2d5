import Foundation
import Queue
import SluiceCore

/// The batch lane's intake: call jobs the call stage hands over for batch deployments, held (still
/// leased) until the lane's service packs them into batches.
///
/// It accepts a call while the deployment's enqueued-token quota (less the batches that hold it,
/// as last read from the queue, and the calls offered already) can take its input tokens.
public actor BatchLane {
    /// What the lane says to a call offered.
    public enum Answer: Sendable, Hashable {
        /// Taken: the lane commits it.
        case accepted
        /// The quota is taken: offer it again at this time (seconds since 1970).
        case wait(until: Double)
        /// No batch of these deployments can ever take it.
        case tooLarge(String)
        /// The lane has stopped (shutdown).
        case closed
    }

    /// A call handed over.
    struct Offer: Sendable {
        let job: Job
        let input: CallInput
        let deployment: String
    }

    /// The batch deployments by name.
    public let settings: [String: BatchSettings]
    let clock: any RunClock
    private var offers: [String: [Offer]] = [:]
    private var offeredTokens: [String: Int] = [:]
    private var lastOffer: [String: Double] = [:]
    private var inUse: [String: Int] = [:]
    private var closed = false

    /// - Parameters:
    ///   - settings: The batch deployments by name.
    ///   - clock: The run's time.
    public init(settings: [String: BatchSettings], clock: any RunClock) {
        self.settings = settings
        self.clock = clock
    }

    /// Offers a call to the first of `deployments` whose quota can take it.
    func offer(_ job: Job, input: CallInput, to deployments: [String]) -> Answer {
        guard !closed else { return .closed }
        let tokens = input.promptTokens
        var refusals: [String] = []
        var poll = Double.infinity
        for name in deployments {
            guard let settings = settings[name] else { continue }
            guard tokens <= settings.enqueuedTokens else {
                refusals.append(
                    "\(tokens) input tokens, more than batch deployment '\(name)''s enqueued-token quota of \(settings.enqueuedTokens)"
                )
                continue
            }
            poll = min(poll, settings.pollSeconds)
            if inUse[name, default: 0] + offeredTokens[name, default: 0] + tokens <= settings.enqueuedTokens {
                offers[name, default: []].append(Offer(job: job, input: input, deployment: name))
                offeredTokens[name, default: 0] += tokens
                lastOffer[name] = clock.now
                return .accepted
            }
        }
        if poll == .infinity { return .tooLarge(refusals.joined(separator: "; ")) }
        return .wait(until: clock.now + poll)
    }

    /// The calls offered to a deployment, taken for packing when no call came for `linger` seconds
    /// or they fill its quota or a file (nil: not yet).
    func take(_ name: String, linger: Double, maxLines: Int) -> [Offer]? {
        guard let waiting = offers[name], !waiting.isEmpty, let settings = settings[name] else { return nil }
        let full =
            waiting.count >= maxLines
            || inUse[name, default: 0] + offeredTokens[name, default: 0] >= settings.enqueuedTokens
        guard full || clock.now - (lastOffer[name] ?? 0) >= linger || closed else { return nil }
        offers[name] = []
        offeredTokens[name] = 0
        return waiting
    }

    /// Sets the input tokens of a deployment's batches that hold quota, as the queue has them.
    func account(_ name: String, inUse tokens: Int) { inUse[name] = tokens }

    /// Stops taking calls; returns those offered and not packed (to give back).
    func close() -> [Offer] {
        closed = true
        defer { offers = [:] }
        return offers.values.flatMap { $0 }
    }
}
