import Call
import Foundation
import Pipeline
import Scheduler
import SluiceCore
import Testing

@Suite struct DeploymentsFileTests {
    @Test func theSampleFileReadsWithProfilesPoolsAndDerivedLimits() throws {
        let file = try DeploymentsFile.load(
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
                "../../samples/deployments.yaml"
            ).standardizedFileURL.path)
        #expect(file.defaultProfile == "test")
        #expect(try file.selection(profile: nil).map(\.name) == ["gpt4o-mini-paygo"])
        let prod = try file.selection(profile: "prod")
        #expect(prod.map(\.name) == ["gpt4o-ptu", "gpt4o-paygo"])
        #expect(file.pools["gpt4o"] == ["gpt4o-ptu", "gpt4o-paygo"])
        let ptu = try #require(prod.first)
        // 50 PTU of gpt-4o at 2,500 input tokens per minute each.
        #expect(ptu.quota.kind == .provisioned(ptu: 50, tokensPerMinute: 125_000) && ptu.quota.priority == 1)
        let paygo = try #require(prod.last)
        // RPM derived from TPM with gpt-4o's ratio: 6 per 1,000.
        #expect(paygo.quota.kind == .standard(tokensPerMinute: 450_000, requestsPerMinute: 2_700) && paygo.derivedRPM)
        #expect(throws: SluiceError.self) { try file.selection(profile: "staging") }
    }

    @Test func aBatchDeploymentHasItsQuotaItsPollingAndTheBatchPrice() throws {
        let file = try DeploymentsFile.parse(
            """
            deployments:
              nightly:
                endpoint: https://east.example.com
                api: azure-v1
                model: gpt-4o
                kind: batch
                enqueued_tokens: 5000000
                batch_poll: 30
            """, file: "d.yaml")
        let entry = try #require(file.entries["nightly"])
        #expect(entry.batch == BatchSettings(enqueuedTokens: 5_000_000, pollSeconds: 30))
        #expect(entry.billing == .perToken(.batch) && entry.api == .azureV1)
        func refusal(_ text: String) -> String {
            do {
                _ = try DeploymentsFile.parse(text, file: "d.yaml")
                return ""
            } catch {
                return "\(error)"
            }
        }
        let base = "deployments:\n  nightly:\n    endpoint: https://east.example.com\n"
        #expect(refusal(base + "    kind: batch\n").contains("enqueued_tokens"))
        #expect(refusal(base + "    kind: batch\n    enqueued_tokens: 0\n").contains("enqueued_tokens"))
        #expect(refusal(base + "    kind: batch\n    enqueued_tokens: 10\n    sku: global\n").contains("sku"))
        #expect(refusal(base + "    enqueued_tokens: 10\n").contains("for a batch deployment"))
        #expect(refusal(base + "    kind: batch\n    enqueued_tokens: 10\n    batch_poll: -1\n").contains("batch_poll"))
        #expect(refusal(base + "    kind: stream\n").contains("standard, provisioned or batch"))
    }

    @Test func secretsComeFromTheEnvironmentOnly() throws {
        let file = try DeploymentsFile.parse(
            """
            deployments:
              east:
                endpoint: https://east.example.com
                auth: {api_key_env: EAST_KEY}
            """, file: "d.yaml")
        let entry = try #require(file.entries["east"])
        #expect(throws: SluiceError.self) { try entry.resolve(environment: [:]) }
        let deployment = try entry.resolve(environment: ["EAST_KEY": "k-123"])
        #expect(deployment.authentication == .apiKey("k-123"))
        #expect(!deployment.description.contains("k-123"))
    }

    @Test(arguments: [
        ("deployments:\n  a:\n    endpoint: https://a\n    kind: spot\n", "d.yaml:4: field 'deployments.a.kind'"),
        ("deployments:\n  a:\n    endpoint: https://a\n    tpm: lots\n", "d.yaml:4: field 'deployments.a.tpm'"),
        ("deployments:\n  a:\n    endpoint: https://a\n    tmp: 1000\n", "unknown field 'deployments.a.tmp'"),
        (
            "deployments:\n  a: {endpoint: https://a}\nprofiles:\n  prod: [a, b]\n",
            "names 'b', which is not in 'deployments'"
        ),
        ("deployments:\n  a: {kind: standard}\n", "field 'deployments.a.endpoint' is required"),
    ])
    func mistakesNameFileLineAndField(yaml: String, message: String) {
        do {
            _ = try DeploymentsFile.parse(yaml, file: "d.yaml")
            Issue.record("accepted")
        } catch {
            #expect("\(error)".contains(message), "\(error)")
        }
    }
}
