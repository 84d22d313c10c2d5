import Foundation
import Synchronization
import Tokenizer

/// What the simulator answers to one request (an `Error` only so a refusal can be a `Result` failure).
struct SimulatedResponse: Error {
    enum Delivery: Sendable {
        case normal
        /// Headers announce the full body; half is sent, then the connection closes.
        case resetMidBody
        /// Nothing is sent; the connection closes after the delay.
        case stall
    }

    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]
    /// Real seconds before the answer.
    var delay: Double
    var delivery: Delivery = .normal
}

/// The simulator's state: quota counters per deployment and request statistics.
final class SimulatorEngine: Sendable {
    let configuration: SimulatorConfiguration
    let state: Mutex<State>
    private let started = ContinuousClock.now

    struct DeploymentState {
        var deployment: SimulatorConfiguration.Deployment
        var minute: Int = -1
        var tokensThisMinute = 0
        var requestsThisMinute = 0
        var rpmWindow: Int = -1
        var requestsThisWindow = 0
        var bucketLevel: Double = 0
        var bucketTime: Double = 0
        /// Provisioned: corrections to actual usage, applied when each request ends (simulated time).
        var corrections: [(due: Double, delta: Double)] = []
        /// Tokens the provisioned bucket has drained (processed) since the start.
        var drained: Double = 0
    }

    struct State {
        var deployments: [String: DeploymentState] = [:]
        var random: SplitMix
        var counter = 0
        var statistics = SimulatorStatistics()
        // The Files and Batches API.
        var files: [String: StoredFile] = [:]
        var fileOrder: [String] = []
        var batches: [String: StoredBatch] = [:]
        var batchOrder: [String] = []
        var nextObject = 0
    }

    init(configuration: SimulatorConfiguration) {
        self.configuration = configuration
        var deployments: [String: DeploymentState] = [:]
        for deployment in configuration.deployments {
            deployments[deployment.name] = DeploymentState(deployment: deployment)
        }
        state = Mutex(State(deployments: deployments, random: SplitMix(seed: configuration.seed)))
    }

    /// Simulated seconds since start.
    var now: Double { (ContinuousClock.now - started).simulatorSeconds * configuration.speedUp }

    var statistics: SimulatorStatistics { state.withLock { $0.statistics } }

    func resetStatistics() { state.withLock { $0.statistics = SimulatorStatistics() } }

    // MARK: Requests

    func handle(method: String, uri: String, headers: [(String, String)], body: [UInt8]) -> SimulatedResponse {
        let (path, query) = Self.split(uri)
        if method == "GET" && path == "/sluice/stats" {
            let data = (try? JSONEncoder().encode(statistics)) ?? Data()
            return SimulatedResponse(
                status: 200, headers: [("content-type", "application/json")], body: Array(data), delay: 0)
        }
        if let batchPath = BatchRoute(path: path, query: query) {
            if let refused = refuseUnauthorized(headers) { return refused }
            return handleBatches(batchPath, method: method, headers: headers, body: body)
        }
        guard method == "POST" else { return error(405, "MethodNotAllowed", "use POST") }
        let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
        let deploymentName: String
        let parts = path.split(separator: "/")
        if parts.count == 5, parts[0] == "openai", parts[1] == "deployments", parts[3] == "chat",
            parts[4] == "completions"
        {
            guard query.contains(where: { $0.hasPrefix("api-version=") }) else {
                return error(404, "404", "Resource not found (api-version query parameter is missing)")
            }
            deploymentName = String(parts[2]).removingPercentEncoding ?? String(parts[2])
        } else if path == "/openai/v1/chat/completions" || path == "/v1/chat/completions" {
            guard let model = object?["model"] as? String else {
                return error(400, "invalid_request_error", "model is required")
            }
            deploymentName = model
        } else {
            return error(404, "404", "Resource not found")
        }
        if let refused = refuseUnauthorized(headers) { return refused }
        if isBatch(deploymentName) {
            recordStatus(400)
            return error(
                400, "OperationNotSupported",
                "The chatCompletion operation does not work with the specified model's global batch deployment; use the Batch API."
            )
        }
        guard let object, let messages = object["messages"] as? [[String: Any]] else {
            recordStatus(400)
            return error(400, "invalid_request_error", "the request body is not a chat completion request")
        }
        let clientID = headers.first { $0.0.lowercased() == "x-ms-client-request-id" }?.1
        let response = respond(deploymentName: deploymentName, request: object, messages: messages, clientID: clientID)
        // Azure's spillover: a provisioned deployment that is full hands the request to the named one.
        if response.status == 429,
            let spillover = headers.first(where: { $0.0.lowercased() == "x-ms-spillover-deployment" })?.1,
            spillover != deploymentName, isProvisioned(deploymentName)
        {
            state.withLock { $0.statistics.spilledOver += 1 }
            return respond(deploymentName: spillover, request: object, messages: messages, clientID: clientID)
        }
        return response
    }

    /// A 401 when a key is configured and the request does not carry it.
    private func refuseUnauthorized(_ headers: [(String, String)]) -> SimulatedResponse? {
        guard let key = configuration.apiKey else { return nil }
        let apiKey = headers.first { $0.0.lowercased() == "api-key" }?.1
        let bearer = headers.first { $0.0.lowercased() == "authorization" }?.1
        guard apiKey != key && bearer != "Bearer \(key)" else { return nil }
        recordStatus(401)
        return error(
            401, "401",
            "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key.")
    }

    /// Answers one chat completion request (a batch's lines come here too).
    func respond(deploymentName: String, request: [String: Any], messages: [[String: Any]], clientID: String?)
        -> SimulatedResponse
    {
        let chat = messages.map {
            ChatMessage(
                role: $0["role"] as? String ?? "user", content: $0["content"] as? String ?? "",
                name: $0["name"] as? String)
        }
        let maxTokens = request["max_completion_tokens"] as? Int ?? request["max_tokens"] as? Int ?? 4_096
        let n = max(1, request["n"] as? Int ?? 1)
        let now = self.now
        // Counting tokens is the expensive part: it happens outside the lock, between looking the
        // deployment up and admitting the request.
        let model: String? = state.withLock { state in
            state.statistics.requests += 1
            if let clientID {
                state.statistics.requestsByClientID[clientID, default: 0] += 1
                state.statistics.arrivalsByClientID[clientID, default: []].append(state.statistics.requests)
            }
            if state.deployments[deploymentName] == nil, let kind = configuration.defaultKind {
                state.deployments[deploymentName] = DeploymentState(deployment: .init(name: deploymentName, kind: kind))
            }
            return state.deployments[deploymentName]?.deployment.model
        }
        guard let model else {
            recordStatus(404)
            return error(404, "DeploymentNotFound", "The API deployment for this resource does not exist.")
        }
        let encoding = BytePairEncoding.encoding(ModelEncoding.resolve(model: model).encoding)
        let counted = Self.promptTokens(chat, encoding: encoding)
        let decision: Result<(DeploymentState, [(String, String)]), SimulatedResponse> = state.withLock { state in
            guard var deployment = state.deployments[deploymentName] else {
                return .failure(
                    error(404, "DeploymentNotFound", "The API deployment for this resource does not exist."))
            }
            let drainedBefore = deployment.drained
            let charge = arrivalCharge(
                deployment.deployment.kind, messages: chat, promptTokens: counted, maxTokens: maxTokens, n: n)
            let admission = Self.admit(&deployment, charge: charge, now: now)
            state.deployments[deploymentName] = deployment
            let minute = Int(now / 60)
            var counters = state.statistics.timeline[deploymentName]?[minute] ?? MinuteCounters()
            counters.drainedTokens += Int(deployment.drained - drainedBefore)
            defer { state.statistics.timeline[deploymentName, default: [:]][minute] = counters }
            if configuration.recordArrivals {
                var arrival = Arrival(time: now, status: 200, retryAfter: nil, charge: charge, client: clientID)
                if case .failure(let response) = admission {
                    arrival.status = response.status
                    arrival.retryAfter =
                        response.headers.first { $0.0 == "retry-after-ms" }.flatMap { Double($0.1) }
                        .map { $0 / 1000 } ?? response.headers.first { $0.0 == "retry-after" }.flatMap { Double($0.1) }
                }
                state.statistics.arrivals[deploymentName, default: []].append(arrival)
            }
            switch admission {
            case .failure(let response):
                state.statistics.rateLimited += 1
                counters.rateLimited += 1
                return .failure(response)
            case .success(let headers):
                state.statistics.admittedTokens += charge
                counters.admittedTokens += charge
                counters.requests += 1
                return .success((deployment, headers))
            }
        }
        let deployment: DeploymentState
        let promptTokens: Int
        var headers: [(String, String)]
        switch decision {
        case .failure(let response):
            recordStatus(response.status)
            return response
        case .success(let admitted):
            deployment = admitted.0
            promptTokens = counted
            headers = admitted.1
        }
        if promptTokens + maxTokens > deployment.deployment.contextWindow {
            recordStatus(400)
            return error(
                400, "context_length_exceeded",
                "This model's maximum context length is \(deployment.deployment.contextWindow) tokens. However, you requested \(promptTokens + maxTokens) tokens (\(promptTokens) in the messages, \(maxTokens) in the completion). Please reduce the length of the messages or completion."
            )
        }
        let trigger = configuration.faults.contentFilterTrigger
        if !trigger.isEmpty, chat.contains(where: { $0.content.contains(trigger) }) {
            recordStatus(400)
            return error(
                400, "content_filter",
                "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.")
        }
        let fault = drawFault()
        let id = state.withLock { state -> Int in
            state.counter += 1
            return state.counter
        }
        switch fault {
        case .serverError:
            recordStatus(500)
            return error(500, "InternalServerError", "The server had an error while processing your request.")
        case .serviceUnavailable:
            recordStatus(503)
            var response = error(
                503, "ServiceUnavailable", "The service is temporarily unable to process your request.")
            response.headers.append(("retry-after", "1"))
            return response
        case .stall:
            state.withLock { $0.statistics.stalled += 1 }
            return SimulatedResponse(
                status: 0, headers: [], body: [], delay: configuration.faults.stallSeconds, delivery: .stall)
        default: break
        }
        let lastUser = chat.last { $0.role == "user" }?.content ?? chat.last?.content ?? ""
        let breaksFormat =
            chat.contains { $0.content.contains(configuration.faults.invalidOutputTrigger) }
            || (chat.contains { $0.content.contains(configuration.faults.invalidOnceTrigger) }
                && state.withLock { state in clientID.map { state.statistics.requestsByClientID[$0] ?? 0 } ?? 1 } <= 1)
        var (content, contentTokens, finish) =
            StructuredReply.make(
                format: request["response_format"] as? [String: Any], prompt: lastUser, breaking: breaksFormat,
                encoding: encoding, maxTokens: maxTokens)
            ?? Self.reply(to: lastUser, target: configuration.replyTokens, maxTokens: maxTokens, encoding: encoding)
        // Reasoning models think before they answer: hidden tokens, billed as output, within max_tokens.
        let reasoningTokens = Self.isReasoning(model) ? min(contentTokens, max(0, maxTokens - contentTokens)) : 0
        if Self.isReasoning(model) && contentTokens >= maxTokens { finish = "length" }
        let completionTokens = contentTokens + reasoningTokens
        // A model router answers with the model it chose.
        let servedModel = Self.routed(model, prompt: lastUser)
        // Written by hand: JSONSerialization would dominate the simulator's time.
        let choices = (0..<n).map { index in
            "{\"finish_reason\":\"\(finish)\",\"index\":\(index),\"message\":{\"content\":\(Self.quoted(content)),\"role\":\"assistant\"}}"
        }
        let completion =
            "{\"choices\":[\(choices.joined(separator: ","))],\"created\":\(Int(Date().timeIntervalSince1970)),"
            + "\"id\":\"chatcmpl-sim-\(id)\",\"model\":\(Self.quoted(servedModel)),\"object\":\"chat.completion\","
            + "\"system_fingerprint\":\"fp_sluice_sim\",\"usage\":{\"completion_tokens\":\(completionTokens * n),"
            + "\"completion_tokens_details\":{\"reasoning_tokens\":\(reasoningTokens * n)},\"prompt_tokens\":\(promptTokens),"
            + "\"prompt_tokens_details\":{\"cached_tokens\":0},\"total_tokens\":\(promptTokens + completionTokens * n)}}"
        var body = Array(completion.utf8)
        if case .provisioned(_, let weight, _) = deployment.deployment.kind {
            // The charge is corrected to the usage when the request ends, not when it is admitted.
            let ends = now + configuration.baseLatency + configuration.perTokenLatency * Double(completionTokens)
            correctBucket(
                deploymentName, admitted: (promptTokens + maxTokens) * n,
                actual: promptTokens + completionTokens * n * weight, at: ends)
        }
        headers.append(contentsOf: [
            ("content-type", "application/json"), ("apim-request-id", UUID().uuidString.lowercased()),
            ("x-request-id", UUID().uuidString.lowercased()), ("x-ms-region", "Simulated"),
            ("x-ms-deployment-name", deploymentName),
        ])
        let delay =
            (configuration.baseLatency + configuration.perTokenLatency * Double(completionTokens))
            / configuration.speedUp
        var response = SimulatedResponse(status: 200, headers: headers, body: body, delay: delay)
        switch fault {
        case .connectionReset:
            response.delivery = .resetMidBody
            state.withLock { $0.statistics.resets += 1 }
        case .truncatedJSON:
            body = Array(body.prefix(body.count / 2))
            response.body = body
            recordStatus(200)
            state.withLock { $0.statistics.truncated += 1 }
        default:
            recordStatus(200)
            state.withLock { state in
                state.statistics.completed += 1
                state.statistics.billedPromptTokens += promptTokens
                state.statistics.billedCompletionTokens += completionTokens * n
                if let clientID { state.statistics.completedByClientID[clientID, default: 0] += 1 }
            }
        }
        return response
    }

    private func isBatch(_ name: String) -> Bool {
        state.withLock { state in
            if case .batch = state.deployments[name]?.deployment.kind { return true }
            return false
        }
    }

    private func isProvisioned(_ name: String) -> Bool {
        state.withLock { state in
            if case .provisioned = state.deployments[name]?.deployment.kind { return true }
            return false
        }
    }

    /// Provisioned: the charge corrected to the usage when the request ends (`at`, simulated time).
    private func correctBucket(_ name: String, admitted: Int, actual: Int, at due: Double) {
        state.withLock { state in
            guard var deployment = state.deployments[name] else { return }
            let index = deployment.corrections.firstIndex { $0.due > due } ?? deployment.corrections.endIndex
            deployment.corrections.insert((due, Double(actual - admitted)), at: index)
            state.deployments[name] = deployment
        }
    }

    // MARK: Helpers

    enum Fault { case none, serverError, serviceUnavailable, connectionReset, stall, truncatedJSON }

    private func drawFault() -> Fault {
        let faults = configuration.faults
        let draw = state.withLock { $0.random.nextDouble() }
        var threshold = 0.0
        for (rate, fault) in [
            (faults.serverError, Fault.serverError), (faults.serviceUnavailable, .serviceUnavailable),
            (faults.connectionReset, .connectionReset), (faults.stall, .stall), (faults.truncatedJSON, .truncatedJSON),
        ] {
            threshold += rate
            if draw < threshold { return fault }
        }
        return .none
    }

    func recordStatus(_ status: Int) {
        state.withLock { $0.statistics.byStatus[String(status), default: 0] += 1 }
    }

    func error(_ status: Int, _ code: String, _ message: String) -> SimulatedResponse {
        Self.errorResponse(status, code, message)
    }

    static func errorResponse(_ status: Int, _ code: String, _ message: String) -> SimulatedResponse {
        var error: [String: Any] = ["code": code, "message": message, "param": NSNull(), "type": NSNull()]
        if code == "content_filter" {
            error["innererror"] = [
                "code": "ResponsibleAIPolicyViolation",
                "content_filter_result": ["hate": ["filtered": true, "severity": "high"]],
            ]
        }
        let body = (try? JSONSerialization.data(withJSONObject: ["error": error], options: [.sortedKeys])) ?? Data()
        return SimulatedResponse(
            status: status, headers: [("content-type", "application/json")], body: Array(body), delay: 0)
    }

    /// A deterministic reply: it echoes the first words of the prompt, so each result can be checked
    /// against its chunk, padded to about `target` tokens (at most `maxTokens`).
    static func reply(to prompt: String, target: Int, maxTokens: Int, encoding: BytePairEncoding) -> (
        String, Int, String
    ) {
        let words = prompt.split(whereSeparator: \.isWhitespace).prefix(12).joined(separator: " ")
        var text = "Echo: \(words)"
        let filler = " The simulated model summarizes this passage in plain words."
        while encoding.count(text) < min(target, maxTokens) { text += filler }
        return limited(text, maxTokens: maxTokens, encoding: encoding)
    }

    /// A reply's text, its tokens and finish reason: cut at `maxTokens` ("length"), as a model stops.
    static func limited(_ text: String, maxTokens: Int, encoding: BytePairEncoding) -> (String, Int, String) {
        let ids = encoding.encode(text)
        guard ids.count > maxTokens else { return (text, ids.count, "stop") }
        let kept = Array(ids.prefix(maxTokens))
        return ((try? encoding.decode(kept)) ?? text, kept.count, "length")
    }

    /// o-series and gpt-5 (not gpt-5-chat) reason before answering.
    static func isReasoning(_ model: String) -> Bool {
        let name = model.lowercased()
        return ["o1", "o3", "o4", "gpt-5", "gpt-oss"].contains { name.hasPrefix($0) } && !name.hasPrefix("gpt-5-chat")
    }

    /// The model that answers: a model router picks one of its models by the prompt.
    static func routed(_ model: String, prompt: String) -> String {
        guard model.lowercased().hasPrefix("model-router") else { return model }
        let choices = ["gpt-4.1-nano-2025-04-14", "gpt-4.1-mini-2025-04-14", "gpt-4.1-2025-04-14"]
        return choices[prompt.utf8.count % choices.count]
    }

    /// A JSON string literal.
    static func quoted(_ text: String) -> String {
        var output = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case _ where scalar.value < 0x20: output += String(format: "\\u%04x", scalar.value)
            default: output.unicodeScalars.append(scalar)
            }
        }
        return output + "\""
    }

    static func split(_ uri: String) -> (String, [String]) {
        guard let mark = uri.firstIndex(of: "?") else { return (uri, []) }
        return (String(uri[..<mark]), uri[uri.index(after: mark)...].split(separator: "&").map(String.init))
    }
}

/// Counters the simulator exposes at `GET /sluice/stats`.
public struct SimulatorStatistics: Sendable, Codable, Hashable {
    /// Requests received.
    public var requests = 0
    /// Requests answered 200.
    public var completed = 0
    /// Requests answered 429.
    public var rateLimited = 0
    /// Connections reset.
    public var resets = 0
    /// Requests stalled.
    public var stalled = 0
    /// Replies cut short.
    public var truncated = 0
    /// Tokens charged against quota.
    public var admittedTokens = 0
    /// Requests a full provisioned deployment handed to its `x-ms-spillover-deployment`.
    public var spilledOver = 0
    /// Prompt tokens billed.
    public var billedPromptTokens = 0
    /// Completion tokens billed.
    public var billedCompletionTokens = 0
    /// Responses by status code.
    public var byStatus: [String: Int] = [:]
    /// Requests by `x-ms-client-request-id`.
    public var requestsByClientID: [String: Int] = [:]
    /// The arrival numbers (1, 2, ... across all requests) of each `x-ms-client-request-id`'s requests.
    public var arrivalsByClientID: [String: [Int]] = [:]
    /// Successful completions delivered whole, by `x-ms-client-request-id`.
    public var completedByClientID: [String: Int] = [:]
    /// Per deployment, per simulated minute (0, 1, ... since the simulator started).
    public var timeline: [String: [Int: MinuteCounters]] = [:]
    /// Per deployment, every request's arrival (only with `recordArrivals`).
    public var arrivals: [String: [Arrival]] = [:]
    /// Files uploaded and deleted, batches created, through the Files and Batches API.
    public var filesUploaded = 0
    public var filesDeleted = 0
    public var batchesCreated = 0
    /// How many times each custom_id was in a batch that passed validation.
    public var batchLinesByCustomID: [String: Int] = [:]
    /// How many times each custom_id was in an uploaded file.
    public var uploadedLinesByCustomID: [String: Int] = [:]

    /// Nothing counted.
    public init() {}
}

/// A request as the simulator's quota saw it.
public struct Arrival: Sendable, Codable, Hashable {
    /// Simulated seconds since the simulator started.
    public var time: Double
    /// 200 when admitted, 429 when refused.
    public var status: Int
    /// The retry-after a 429 carried, in seconds.
    public var retryAfter: Double?
    /// What the quota was (or would have been) charged at arrival.
    public var charge: Int = 0
    /// The request's `x-ms-client-request-id`.
    public var client: String?
}

/// One deployment's counters in one simulated minute.
public struct MinuteCounters: Sendable, Codable, Hashable {
    /// Requests admitted and the quota they were charged (estimate at arrival).
    public var requests = 0
    /// Tokens charged against quota in the minute.
    public var admittedTokens = 0
    /// Requests answered 429 in the minute.
    public var rateLimited = 0
    /// Provisioned: tokens the capacity processed (prompt + weighted completion, after correction).
    public var drainedTokens = 0

    /// Nothing counted.
    public init() {}
}

/// SplitMix64.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func nextDouble() -> Double { Double(next() >> 11) / Double(1 << 53) }
}

extension Duration {
    var simulatorSeconds: Double {
        let (whole, fraction) = components
        return Double(whole) + Double(fraction) / 1e18
    }
}
