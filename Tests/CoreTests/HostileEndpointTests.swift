import Call
import Foundation
import Scheduler
import SluiceCore
import SluiceTesting
import Testing

/// Endpoints that misbehave: redirects that would carry the key elsewhere, retry-after values that
/// are no time at all. Real HTTP on loopback against a scripted server.
@Suite struct HostileEndpointTests {
    static let body = Data(#"{"max_tokens":50,"messages":[{"content":"A confidential contract.","role":"user"}]}"#.utf8)

    func deployment(_ endpoint: String) -> Deployment {
        Deployment(
            name: "d", endpoint: endpoint, api: .azureV1, deployment: "d", authentication: .apiKey("secret-key-123"),
            timeoutSeconds: 5)
    }

    @Test(arguments: [301, 302, 307, 308])
    func aRedirectIsNotFollowedAndNamesWhereItPointed(status: Int) async throws {
        let elsewhere = try await ScriptedEndpoint.start { _ in .init(status: 200, body: #"{"choices":[]}"#) }
        let target = elsewhere.endpoint + "/collect"
        let endpoint = try await ScriptedEndpoint.start { _ in .init(status: status, headers: [("location", target)]) }
        let client = ChatCompletionClient(connectionsPerHost: 2)
        let outcome = await client.send(body: Self.body, to: deployment(endpoint.endpoint), customID: "c1")
        #expect(outcome.errorClass == .redirected, "\(outcome.message ?? "")")
        #expect(outcome.errorClass?.isRetryable == false)
        #expect(outcome.message?.contains(target) == true, "\(outcome.message ?? "")")
        // Neither the key nor the document went to the other origin.
        #expect(elsewhere.received.isEmpty)
        #expect(endpoint.received.count == 1)
        #expect(endpoint.received.first?.headers["api-key"] == "secret-key-123")
        try await client.shutdown()
        try await endpoint.stop()
        try await elsewhere.stop()
    }

    @Test func retryAfterValuesThatAreNoTimeAreBoundedOrIgnored() async throws {
        // (header, value, expected seconds: nil = ignored)
        let cases: [(String, String, Double?)] = [
            ("retry-after", "inf", 86_400), ("retry-after", "1e20", 86_400), ("retry-after", "nan", nil),
            ("retry-after", "-5", nil), ("retry-after", "999999", 86_400), ("retry-after", " 7 ", 7),
            ("retry-after-ms", "inf", 86_400), ("retry-after-ms", "1500", 1.5), ("retry-after", "soon", nil),
        ]
        let client = ChatCompletionClient(connectionsPerHost: 2)
        for (name, value, expected) in cases {
            for status in [429, 503] {
                let endpoint = try await ScriptedEndpoint.start { _ in
                    .init(status: status, headers: [(name, value)], body: #"{"error":{"code":"x","message":"no"}}"#)
                }
                let outcome = await client.send(body: Self.body, to: deployment(endpoint.endpoint), customID: "c")
                #expect(
                    outcome.retryAfter == expected,
                    "\(status) \(name): \(value) → \(String(describing: outcome.retryAfter))")
                try await endpoint.stop()
            }
        }
        try await client.shutdown()
    }

    @Test func anAbsurdRetryAfterStopsTheDeploymentWithoutATrap() async throws {
        let endpoint = try await ScriptedEndpoint.start { _ in
            .init(status: 429, headers: [("retry-after", "1e300")], body: #"{"error":{"code":"429","message":"x"}}"#)
        }
        let client = ChatCompletionClient(connectionsPerHost: 2)
        let outcome = await client.send(body: Self.body, to: deployment(endpoint.endpoint), customID: "c")
        let scheduler = Scheduler(
            deployments: [DeploymentQuota(name: "d", kind: .standard(tokensPerMinute: nil, requestsPerMinute: nil))],
            clock: VirtualClock())
        let admission = try await scheduler.acquire(from: ["d"], charge: 100)
        let message = await scheduler.finish(
            admission, CallReport(result: .rateLimited(retryAfter: outcome.retryAfter), latencySeconds: 0.01))
        #expect(message?.contains("86400 s") == true, "\(message ?? "")")
        // Straight from a caller that did not bound it either.
        let other = Scheduler(
            deployments: [DeploymentQuota(name: "d", kind: .standard(tokensPerMinute: nil, requestsPerMinute: nil))],
            clock: VirtualClock())
        let second = try await other.acquire(from: ["d"], charge: 100)
        #expect(
            await other.finish(second, CallReport(result: .rateLimited(retryAfter: .infinity), latencySeconds: 0))
                != nil)
        try await client.shutdown()
        try await endpoint.stop()
    }

    @Test func aServerErrorsRetryAfterWaitsAtMostTheCap() {
        var generator = SystemRandomNumberGenerator()
        let policy = RetryPolicy(maxAttempts: 3, maxRetryAfterSeconds: 120)
        #expect(policy.delay(afterAttempts: 1, retryAfter: 999_999, using: &generator) == 120)
        #expect(policy.delay(afterAttempts: 1, retryAfter: 7, using: &generator) == 7)
        let backoff = policy.delay(afterAttempts: 1, retryAfter: .infinity, using: &generator)
        #expect(backoff.isFinite && backoff <= 0.5)
    }
}
