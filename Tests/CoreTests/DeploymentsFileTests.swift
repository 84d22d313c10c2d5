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
