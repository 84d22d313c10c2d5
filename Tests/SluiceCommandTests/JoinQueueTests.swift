import Foundation
import SluiceTesting
import Testing

/// `sluice run --db` without a pipeline joins what was enqueued, and knows its model.
@Suite struct JoinQueueTests {
    @Test func aProvisionedDeploymentsCapacityComesFromTheEnqueuedPipelinesModel() async throws {
        let directory = try TemporaryDirectory()
        try directory.write("docs/a.txt", "A short note about a shipment that arrived late.")
        let pipeline = try directory.write(
            "p.yaml",
            """
            name: join
            model: gpt-4o
            max_tokens: 20
            messages:
              - role: user
                content: "{{chunk.text}}"
            """)
        let database = directory.file("q.db")
        let enqueue = try await SluiceProcess.run([
            "enqueue", directory.file("docs"), "--pipeline", pipeline, "--db", database,
        ])
        #expect(enqueue.status == 0, "\(enqueue.stderr)")
        // No pipeline, no --model: 50 PTU of gpt-4o are 125,000 tokens a minute (the catalog's 2,500 each).
        let run = try await SluiceProcess.run([
            "run", "--db", database, "--simulate", "--kind", "provisioned", "--ptu", "50",
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let status = try await SluiceProcess.run(["status", "--db", database, "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
        let deployments = try #require(object["deployments"] as? [[String: Any]])
        let limit = deployments.first?["tokensPerMinuteLimit"] ?? deployments.first?["tokens_per_minute_limit"]
        #expect(limit as? Int == 125_000, "\(deployments)")
    }
}
