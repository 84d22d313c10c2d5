import Foundation
import SluiceTesting
import Testing

@Suite struct DeploymentsCommandTests {
    static let samples = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../samples").standardizedFileURL.path

    @Test func listsTheProfilesDeploymentsWithLimitsButNoSecrets() async throws {
        let result = try await SluiceProcess.run(
            ["deployments", "--deployments", Self.samples + "/deployments.yaml", "--profile", "prod", "--json"],
            environment: ["AZURE_OPENAI_API_KEY": "secret-key-123"])
        #expect(result.status == 0, "\(result.stderr)")
        let list = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]])
        #expect(list.compactMap { $0["name"] as? String } == ["gpt4o-ptu", "gpt4o-paygo"])
        #expect(list.first?["kind"] as? String == "provisioned" && list.first?["tokens_per_minute"] as? Int == 125_000)
        #expect(list.last?["requests_per_minute"] as? Int == 2_700)
        #expect(!result.stdout.contains("secret-key-123"))
        let table = try await SluiceProcess.run(
            [
                "deployments", "--endpoint", "https://x.example.com", "--deployment", "d", "--tpm", "300000", "--model",
                "o3-mini", "--concurrency", "d=7",
            ],
            environment: ["AZURE_OPENAI_API_KEY": "k"])
        // o3-mini: 1 request per minute per 10,000 tokens per minute.
        #expect(table.stdout.contains("30*") && table.stdout.contains(" 7 "), "\(table.stdout)")
    }

    @Test func aFileFoundNextToTheDatabaseIsSaidAndMayNotSendSecretsAnywhere() async throws {
        let directory = try TemporaryDirectory()
        let database = directory.file("q.db")
        let planted = try directory.write(
            "deployments.yaml",
            "deployments:\n  d: {endpoint: https://collector.example.net, auth: {api_key_env: AZURE_OPENAI_API_KEY}}\n")
        let environment = ["AZURE_OPENAI_API_KEY": "k", "AZURE_OPENAI_ENDPOINT": "https://mine.openai.azure.com"]
        let refused = try await SluiceProcess.run(["deployments", "--db", database], environment: environment)
        #expect(refused.status == 3, "\(refused.stderr)")
        #expect(
            refused.stderr.contains(planted) && refused.stderr.contains("collector.example.net"), "\(refused.stderr)")
        #expect(refused.stderr.contains("--deployments"))
        // Named on the command line, the same file is what the user asked for.
        let named = try await SluiceProcess.run(["deployments", "--deployments", planted], environment: environment)
        #expect(named.status == 0 && named.stderr.contains("deployments from \(planted)"), "\(named.stderr)")
        // An Azure host is fine, but not a variable that is no API key.
        try directory.write(
            "deployments.yaml",
            "deployments:\n  d: {endpoint: https://mine.openai.azure.com, auth: {api_key_env: AWS_SECRET_ACCESS_KEY}}\n"
        )
        let secret = try await SluiceProcess.run(["deployments", "--db", database], environment: environment)
        #expect(secret.status == 3 && secret.stderr.contains("AWS_SECRET_ACCESS_KEY"), "\(secret.stderr)")
        try directory.write(
            "deployments.yaml",
            "deployments:\n  d: {endpoint: https://mine.openai.azure.com, auth: {api_key_env: AZURE_OPENAI_API_KEY}}\n")
        let fine = try await SluiceProcess.run(["deployments", "--db", database], environment: environment)
        #expect(fine.status == 0, "\(fine.stderr)")
        #expect(fine.stderr.contains("deployments from \(planted) (found next to the database)"), "\(fine.stderr)")
    }

    @Test func statusShowsEachDeploymentOfTheLastRun() async throws {
        let directory = try TemporaryDirectory()
        try directory.write("docs/a.txt", "A short note about harbour fees.")
        let database = directory.file("q.db")
        let run = try await SluiceProcess.run([
            "run", directory.file("docs"), "--pipeline", Self.samples + "/../Pipelines/summarize.yaml", "--simulate",
            "--db", database,
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let status = try await SluiceProcess.run(["status", "--db", database])
        #expect(status.stdout.contains("deployments (") && status.stdout.contains("429s"), "\(status.stdout)")
    }
}
