/// What a standard deployment's service really takes off its TPM counter, learned from the
/// `x-ratelimit-remaining-tokens` values its responses carry, against what the scheduler charged.
///
/// Azure charges each request at arrival with its own estimate ("based in part on the character
/// count") plus max_tokens, and counts those charges per minute. Sluice predicts a request's charge as
/// `ratio × prompt + max_tokens` (× n), starting from the documented rule (ratio 1: the prompt counted
/// at face value). Two things are learned, kept apart:
///
/// - **The ratio.** Within one minute the counter only goes down, so our responses sorted by their
///   remaining value are in arrival order, and the drop between two neighbours is what the later one
///   was charged, plus whatever other clients sent in between. Drops that no other request shares are
///   the common case; a robust cut (well above the median) leaves the shared ones out. The ratio is
///   bounded and learned per minute, so it follows a change of content or of the service's rule.
/// - **Other clients.** What the counter lost beyond our calibrated charges is other clients' use.
///
/// Pacing does not depend on either being exact: every observation trues the token bucket up to what
/// the counter says was consumed (``observe(_:request:inFlightCharge:)`` returns the difference to
/// debit), so whatever the service counts, ours and others', is what the bucket pays.
///
/// Values are ignored when missing, negative or zero (both occur), above the limit, or from another
/// regional backend than the one seen most (backends may keep counters of their own). A reset (the
/// new minute) is a jump up beyond what reordering of requests in flight can explain.
struct ChargeCalibration: Sendable {
    /// What the scheduler charged one request at admission.
    struct Request: Sendable, Hashable {
        /// Sluice's prompt estimate (× n) and the max_tokens part (× n).
        var prompt: Double
        var fixed: Double
        /// What the bucket was charged at admission.
        var predicted: Double
        var admittedAt: Double
    }

    /// A counter reading: a response's remaining tokens, the limit it was sent with, its backend.
    struct Reading: Sendable, Hashable {
        var remaining: Int?
        var limit: Int?
        var region: String?
    }

    /// One minute of one backend's counter, as far as our responses saw it.
    private struct Segment {
        /// The admission time of the request whose response opened it.
        var openedBy: Double
        /// Whether it was opened by a reset seen (else it is the first minute seen, joined part way).
        var afterReset: Bool
        var minRemaining: Int
        /// When the request of the lowest reading was admitted: one admitted before it arrived before
        /// it, so however far above the low its reading is, it is a late answer, not a reset.
        var lowAdmitted: Double
        /// The counter's limit when known: consumed = limit − remaining.
        var limit: Int?
        var samples: [Sample] = []
        var lastAdmitted: Double
        var sinceEstimate = 0
    }

    /// One of our readings: the remaining value, the request's charge parts and its admission time.
    fileprivate struct Sample {
        var remaining: Int
        var prompt: Double
        var fixed: Double
        var admittedAt: Double
    }

    private struct Backend {
        var current: Segment?
        var previous: Segment?
        var lastSeen: Double
        var seen = 0
    }

    static let bounds = 0.2...5.0
    /// Pairs a minute needs before its own estimate counts.
    static let minimumPairs = 12

    /// Service charge per token of Sluice's prompt estimate (1 until learned).
    private(set) var ratio = 1.0
    /// Tokens per minute other clients were seen to use (nil until a whole minute was seen).
    private(set) var othersPerMinute: Double?
    /// A lower bound on the TPM limit, when no limit header says it: the largest remaining + charge seen.
    private(set) var inferredLimit: Int?
    /// Observations that informed the ratio.
    private(set) var pairs = 0
    /// The last limit seen with a reading (the limit header, or the TPM given).
    private(set) var knownLimit: Int?

    /// The ratio learned from whole minutes, and how much evidence it carries.
    private var settled: (ratio: Double, weight: Double) = (1, 0)
    private var backends: [String: Backend] = [:]
    private var primary: String?

    /// The charge predicted for a request: the calibrated prompt part plus the max_tokens part.
    func predict(prompt: Double, fixed: Double) -> Double { ratio * prompt + fixed }

    /// Takes one counter reading of a response to our request; returns the tokens to debit from the
    /// bucket (negative: credit) so that it has paid what the counter lost.
    ///
    /// - Parameters:
    ///   - inFlightCharge: Predicted charges of our requests in flight (how far reordering can push a
    ///     reading above the lowest one of its minute).
    ///   - inFlight: Admission times of our requests in flight, sorted: a drop between two readings
    ///     whose requests were admitted around one of them holds its charge too, and says nothing yet.
    mutating func observe(_ reading: Reading, request: Request, inFlightCharge: Double, inFlight: [Double] = [])
        -> Double
    {
        if let limit = reading.limit, limit > 0 { knownLimit = limit }
        guard let remaining = reading.remaining, remaining > 0 else { return unread(request) }
        let limit = reading.limit.flatMap { $0 > 0 ? $0 : nil } ?? knownLimit
        if let limit, remaining > limit { return unread(request) }
        // A TPM is set in steps of 1,000: the bound is rounded down to one (a prediction a little high
        // must not lift it above the limit).
        inferredLimit = max(inferredLimit ?? 0, (remaining + Int(request.predicted)) / 1_000 * 1_000)
        let key = reading.region ?? ""
        var backend = backends[key] ?? Backend(lastSeen: request.admittedAt)
        backend.seen += 1
        backend.lastSeen = request.admittedAt
        defer { backends[key] = backend }
        // One backend's counter paces, the one that answers most (or the only one heard from in 30 s);
        // another one's values would look like resets and drops.
        let current = primary.flatMap { backends[$0] }
        if current == nil || primary == key || backend.seen > (current?.seen ?? 0)
            || (current?.lastSeen ?? -.infinity) < request.admittedAt - 30
        {
            primary = key
        } else {
            return unread(request)
        }
        let counterLimit = limit ?? inferredLimit
        if var previous = backend.previous, let current = backend.current, request.admittedAt < current.openedBy {
            // Admitted before the reset was seen: it belongs to the minute before, unless it is older
            // still (a long request): a reading of a counter gone says nothing, and its charge stands.
            guard request.admittedAt >= previous.openedBy else { return 0 }
            let debit = Self.take(&previous, remaining: remaining, request: request)
            backend.previous = previous
            return debit
        }
        if var current = backend.current {
            let jump = remaining - current.minRemaining
            let reorder = 1.5 * inFlightCharge + 0.02 * Double(counterLimit ?? 0) + 2 * request.predicted
            let tooSoon = current.afterReset && request.admittedAt - current.openedBy < 30
            let late = request.admittedAt <= current.lowAdmitted
            if Double(jump) <= reorder || tooSoon || late {
                guard Double(jump) <= reorder || late else { return 0 }  // a stray value: not a reset this soon
                let debit = Self.take(&current, remaining: remaining, request: request)
                current.sinceEstimate += 1
                if current.sinceEstimate >= 16 {
                    current.sinceEstimate = 0
                    estimate(current, final: false, inFlight: inFlight)
                }
                backend.current = current
                return debit
            }
            estimate(current, final: true, inFlight: inFlight)
            backend.previous = current
        }
        // A new minute (or the first reading): the counter restarted at its limit.
        var segment = Segment(
            openedBy: request.admittedAt, afterReset: backend.current != nil, minRemaining: remaining,
            lowAdmitted: request.admittedAt, limit: counterLimit, lastAdmitted: request.admittedAt)
        segment.samples.append(Sample(remaining, request))
        backend.current = segment
        guard let counterLimit else { return 0 }
        return Double(counterLimit - remaining) - request.predicted
    }

    /// A request whose reading says nothing (missing, -1, 0, another backend's) while the counter is
    /// being read: what it was charged shows in the next drop of the counter, so its prediction is given
    /// back rather than paid twice. With no readings coming in, its prediction stands.
    private func unread(_ request: Request) -> Double {
        guard let primary, let backend = backends[primary], backend.current != nil,
            backend.lastSeen >= request.admittedAt - 10
        else { return 0 }
        return -request.predicted
    }

    /// A reading inside a minute: a new low is the drop since the last one; a value above the low was
    /// counted already (with an earlier reading), so its predicted charge is given back.
    private static func take(_ segment: inout Segment, remaining: Int, request: Request) -> Double {
        segment.samples.append(Sample(remaining, request))
        segment.lastAdmitted = max(segment.lastAdmitted, request.admittedAt)
        guard remaining < segment.minRemaining else { return -request.predicted }
        let drop = segment.minRemaining - remaining
        segment.minRemaining = remaining
        segment.lowAdmitted = request.admittedAt
        return Double(drop) - request.predicted
    }

    /// The ratio from one minute's pairs of neighbouring readings; at the end of a minute, its
    /// estimate joins the settled one and other clients' use is worked out.
    private mutating func estimate(_ segment: Segment, final: Bool, inFlight: [Double]) {
        let sorted = segment.samples.sorted { $0.remaining > $1.remaining }
        guard sorted.count > 1 else { return }
        var ratios: [(ratio: Double, charged: Double, prompt: Double)] = []
        ratios.reserveCapacity(sorted.count)
        for index in 1..<sorted.count where sorted[index].prompt > 0 {
            let span =
                min(
                    sorted[index - 1].admittedAt, sorted[index].admittedAt)...max(
                    sorted[index - 1].admittedAt, sorted[index].admittedAt)
            if Self.contains(inFlight, span) { continue }
            let drop = Double(sorted[index - 1].remaining - sorted[index].remaining)
            let charged = drop - sorted[index].fixed
            ratios.append((charged / sorted[index].prompt, charged, sorted[index].prompt))
        }
        var minute: (ratio: Double, pairs: Int)?
        if ratios.count >= Self.minimumPairs {
            let median = ratios.map(\.ratio).sorted()[ratios.count / 2]
            // A drop shared with another client's request (or one of ours answered without headers)
            // stands out far above the others.
            let cut = max(median, 0) * 1.5 + 0.05
            let kept = ratios.filter { $0.ratio <= cut && $0.ratio > -1 }
            let prompt = kept.reduce(0) { $0 + $1.prompt }
            if kept.count >= Self.minimumPairs / 2, prompt > 0 {
                var value = kept.reduce(0) { $0 + $1.charged } / prompt
                // Others cannot have used less than nothing: what the counter lost in all bounds the ratio.
                if let limit = segment.limit, segment.afterReset {
                    let consumed = Double(limit - segment.minRemaining)
                    let ours = segment.samples.reduce((0.0, 0.0)) { ($0.0 + $1.prompt, $0.1 + $1.fixed) }
                    if ours.0 > 0 { value = min(value, (consumed - ours.1) / ours.0) }
                }
                minute = (Self.clamp(value), kept.count)
            }
        }
        if let minute {
            let weight = settled.weight + Double(minute.pairs)
            ratio = Self.clamp((settled.ratio * settled.weight + minute.ratio * Double(minute.pairs)) / weight)
            pairs = Int(weight)
        }
        guard final else { return }
        if let minute {
            // Older minutes count half as much at each new one: a change of rule is followed within minutes.
            settled = (ratio, min(400, (settled.weight + Double(minute.pairs)) * 0.5))
        }
        if segment.afterReset, let limit = segment.limit {
            let consumed = Double(limit - segment.minRemaining)
            let ours = segment.samples.reduce(0) { $0 + ratio * $1.prompt + $1.fixed }
            let span = max(1, segment.lastAdmitted - segment.openedBy)
            let others = max(0, consumed - ours) * 60 / max(span, 30)
            othersPerMinute = othersPerMinute.map { $0 + 0.5 * (others - $0) } ?? others
        }
    }

    /// Whether a sorted list has a value in the range.
    private static func contains(_ sorted: [Double], _ range: ClosedRange<Double>) -> Bool {
        var low = 0
        var high = sorted.count
        while low < high {
            let middle = (low + high) / 2
            if sorted[middle] < range.lowerBound { low = middle + 1 } else { high = middle }
        }
        return low < sorted.count && sorted[low] <= range.upperBound
    }

    private static func clamp(_ value: Double) -> Double {
        guard value.isFinite else { return 1 }
        return min(bounds.upperBound, max(bounds.lowerBound, value))
    }
}

extension ChargeCalibration.Sample {
    fileprivate init(_ remaining: Int, _ request: ChargeCalibration.Request) {
        self.init(remaining: remaining, prompt: request.prompt, fixed: request.fixed, admittedAt: request.admittedAt)
    }
}
