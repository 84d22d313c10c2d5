import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import SluiceCore

/// Sends chat completion requests with AsyncHTTPClient and classifies what comes back.
public final class ChatCompletionClient: Sendable {
    private let client: HTTPClient
    private let logger: Logger
    /// Largest response body accepted.
    public static let maxBodyBytes = 32 << 20

    /// - Parameter connectionsPerHost: HTTP/1 connections per host; keep it at least the concurrency.
    public init(connectionsPerHost: Int = 64, logger: Logger = Logger(label: "sluice.call")) {
        var configuration = HTTPClient.Configuration.toDeployments
        configuration.connectionPool = .init(
            idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: max(8, connectionsPerHost))
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        self.logger = logger
    }

    /// Shuts the connection pool down; call once when done.
    public func shutdown() async throws { try await client.shutdown() }

    /// Sends one request body (JSON, without `model`) to a deployment.
    ///
    /// - Parameters:
    ///   - customID: Sent as `x-ms-client-request-id`, so a request can be traced on both sides.
    public func send(body: Data, to deployment: Deployment, customID: String) async -> CallOutcome {
        let started = ContinuousClock.now
        var request = HTTPClientRequest(url: deployment.url)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.headers.add(name: "x-ms-client-request-id", value: customID)
        if let spillover = deployment.spilloverDeployment {
            request.headers.add(name: "x-ms-spillover-deployment", value: spillover)
        }
        do {
            try await deployment.authentication.authorize(&request)
        } catch {
            var outcome = CallOutcome(latencySeconds: 0)
            outcome.errorClass = .unauthorized
            outcome.message = "no Entra ID token: \(error)"
            return outcome
        }
        var payload = ByteBuffer()
        payload.reserveCapacity(body.count + 64)
        if deployment.sendsModelInBody, body.first == UInt8(ascii: "{") {
            payload.writeString("{\"model\":\(JSONText.quoted(deployment.deployment)),")
            payload.writeBytes(body.dropFirst())
        } else {
            payload.writeBytes(body)
        }
        request.body = .bytes(payload)
        var outcome = CallOutcome(latencySeconds: 0)
        do {
            let response = try await client.execute(
                request, timeout: .milliseconds(Int64(deployment.timeoutSeconds * 1000)))
            outcome.statusCode = Int(response.status.code)
            outcome.requestID =
                response.headers.first(name: "apim-request-id") ?? response.headers.first(name: "x-request-id")
            outcome.retryAfter = Self.retryAfter(response.headers)
            outcome.remainingTokens = response.headers.first(name: "x-ratelimit-remaining-tokens").flatMap { Int($0) }
            outcome.remainingRequests = response.headers.first(name: "x-ratelimit-remaining-requests").flatMap {
                Int($0)
            }
            outcome.limitTokens = response.headers.first(name: "x-ratelimit-limit-tokens").flatMap { Int($0) }
            outcome.limitRequests = response.headers.first(name: "x-ratelimit-limit-requests").flatMap { Int($0) }
            outcome.region = response.headers.first(name: "x-ms-region")
            outcome.utilization = response.headers.first(name: "azure-openai-deployment-utilization").flatMap {
                Double($0.trimmingCharacters(in: CharacterSet(charactersIn: "% "))).map { $0 / 100 }
            }
            outcome.servedBy = response.headers.first(name: "x-ms-deployment-name")
            let buffer = try await response.body.collect(upTo: Self.maxBodyBytes)
            outcome.body = Data(buffer.readableBytesView)
            Self.classify(&outcome)
            if (300..<400).contains(outcome.statusCode ?? 0) {
                let location =
                    response.headers.first(name: "location").map { " to \(Printable.escaped(String($0.prefix(300))))" }
                    ?? ""
                outcome.errorClass = .redirected
                outcome.message =
                    "HTTP \(outcome.statusCode ?? 0): the endpoint redirects\(location); redirects are not followed with credentials (check the endpoint URL)"
            }
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
            outcome.errorClass = .timeout
            outcome.message = "no complete response within \(deployment.timeoutSeconds) s"
        } catch {
            outcome.errorClass = outcome.statusCode == nil ? .connection : .invalidResponse
            outcome.message =
                outcome.statusCode == nil ? "connection failed: \(error)" : "response body cut short: \(error)"
        }
        outcome.latencySeconds = (ContinuousClock.now - started).seconds
        return outcome
    }

    /// Sorts a complete response into success or an error class.
    static func classify(_ outcome: inout CallOutcome) {
        let status = outcome.statusCode ?? 0
        let object = outcome.body.flatMap { try? JSONSerialization.jsonObject(with: $0) } as? [String: Any]
        if (200..<300).contains(status) {
            guard let object, let choices = object["choices"] as? [[String: Any]] else {
                outcome.errorClass = .invalidResponse
                outcome.message = "HTTP \(status) with a body that is not a chat completion (truncated or invalid JSON)"
                return
            }
            outcome.model = object["model"] as? String
            outcome.content = (choices.first?["message"] as? [String: Any])?["content"] as? String
            if let usage = object["usage"] as? [String: Any] {
                let prompt = usage["prompt_tokens"] as? Int ?? 0
                let completion = usage["completion_tokens"] as? Int ?? 0
                outcome.usage = Usage(
                    promptTokens: prompt, completionTokens: completion,
                    totalTokens: usage["total_tokens"] as? Int ?? prompt + completion,
                    cachedTokens: (usage["prompt_tokens_details"] as? [String: Any])?["cached_tokens"] as? Int,
                    reasoningTokens: (usage["completion_tokens_details"] as? [String: Any])?["reasoning_tokens"] as? Int
                )
            }
            if choices.contains(where: { $0["finish_reason"] as? String == "content_filter" }) {
                outcome.errorClass = .contentFilter
                outcome.message = "the output was filtered by the content filter (finish_reason content_filter)"
            }
            return
        }
        let error = object?["error"] as? [String: Any]
        let code = error?["code"] as? String ?? ""
        let message = error?["message"] as? String ?? "HTTP \(status)"
        outcome.message = "HTTP \(status)\(code.isEmpty ? "" : " \(code)"): \(message)"
        switch status {
        case 429: outcome.errorClass = .rateLimited
        case 408: outcome.errorClass = .timeout
        case 409, 500...599: outcome.errorClass = .serverError
        case 401, 403: outcome.errorClass = .unauthorized
        default:
            if code == "content_filter" || message.contains("content management policy") {
                outcome.errorClass = .contentFilter
            } else if code == "context_length_exceeded" {
                outcome.errorClass = .contextLengthExceeded
            } else {
                outcome.errorClass = .badRequest
            }
        }
    }

    /// Retry-after values are clamped to this (a day): beyond it a value says "not today", and a
    /// larger one (or `inf`) must not reach arithmetic that expects a time.
    public static let maxRetryAfterSeconds: Double = 86_400

    /// `retry-after-ms`, else `retry-after` (seconds or an HTTP date), in seconds: finite, not negative,
    /// at most ``maxRetryAfterSeconds``; nil when absent or not a number or a date.
    static func retryAfter(_ headers: HTTPHeaders) -> Double? {
        func bounded(_ seconds: Double) -> Double? {
            guard !seconds.isNaN, seconds >= 0 else { return nil }
            return min(seconds, maxRetryAfterSeconds)  // +inf included
        }
        if let milliseconds = headers.first(name: "retry-after-ms").flatMap(Double.init),
            let seconds = bounded(milliseconds / 1000)
        {
            return seconds
        }
        guard let value = headers.first(name: "retry-after")?.trimmingCharacters(in: .whitespaces) else { return nil }
        if let seconds = Double(value) { return bounded(seconds) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: value).flatMap { bounded(max(0, $0.timeIntervalSinceNow)) }
    }
}
