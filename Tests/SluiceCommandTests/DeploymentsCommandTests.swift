import Foundation
import SluiceTesting
import Testing

@Suite struct DeploymentsCommandTests {
    static let samples = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../samples").standardizedFileURL.path

    @Test func listsTheProfilesDeploymentsWithLimitsButNoSecrets() throws {
        let result = try SluiceProcess.run(
            ["deployments", "--deployments", Self.samples + "/deployments.yaml", "--profile", "prod", "--json"],
            environment: ["AZURE_OPENAI_API_KEY": "secret-key-123"])
        #expect(result.status == 0, "\(result.stderr)")
        let list = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]])
        #expect(list.compactMap { $0["name"] as? String } == ["gpt4o-ptu", "gpt4o-paygo"])
        #expect(list.first?["kind"] as? String == "provisioned" && list.first?["tokens_per_minute"] as? Int == 125_000)
        #expect(list.last?["requests_per_minute"] as? Int == 2_700)
        #expect(!result.stdout.contains("secret-key-123"))
        let table = try SluiceProcess.run(
            [
                "deployments", "--endpoint", "https://x.example.com", "--deployment", "d", "--tpm", "300000", "--model",
                "o3-mini", "--concurrency", "d=7",
            ],
            environment: ["AZURE_OPENAI_API_KEY": "k"])
        // o3-mini: 1 request per minute per 10,000 tokens per minute.
        #expect(table.stdout.contains("30*") && table.stdout.contains(" 7 "), "\(table.stdout)")
    }

    @Test func statusShowsEachDeploymentOfTheLastRun() throws {
        let directory = try TemporaryDirectory()
        try directory.write("docs/a.txt", "A short note about harbour fees.")
        let database = directory.file("q.db")
        let run = try SluiceProcess.run([
            "run", directory.file("docs"), "--pipeline", Self.samples + "/../Pipelines/summarize.yaml", "--simulate",
            "--db", database,
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let status = try SluiceProcess.run(["status", "--db", database])
        #expect(status.stdout.contains("deployments (") && status.stdout.contains("429s"), "\(status.stdout)")
    }
}
