import Foundation
import Queue
import SluiceTesting
import Testing

/// `sluice enqueue`, `run`, `status` and `export` with `--db postgres://…`, as a team runs them.
@Suite(.enabled(if: PostgresTestServer.available), .timeLimit(.minutes(3)))
struct PostgresCommandTests {
    @Test func enqueueOnceRunTwoWorkersThenExport() async throws {
        let directory = try TemporaryDirectory()
        for index in 0..<6 {
            let sentences = (0..<10).map { "Sentence \($0) of report \(index) adds a detail." }
            try directory.write("docs/r\(index).txt", sentences.joined(separator: " "))
        }
        try directory.write(
            "pipeline.yaml",
            """
            name: team
            model: gpt-4o-mini
            max_tokens: 20
            chunking: {max_tokens: 60}
            messages:
              - role: user
                content: "{{chunk.text}}"
            """)
        let location = try await PostgresTestServer.shared.database()
        let url = "postgres://\(location.user)@\(location.host):\(location.port)/\(location.database)?sslmode=disable"
        let enqueue = try await SluiceProcess.run([
            "enqueue", directory.file("docs"), "--pipeline", directory.file("pipeline.yaml"), "--db", url,
        ])
        #expect(enqueue.status == 0 && enqueue.stdout.hasPrefix("documents: 6 new"), "\(enqueue.stderr)")
        // Two workers join the same queue and work until it is drained.
        async let first = SluiceProcess.run(["run", "--db", url, "--simulate"])
        async let second = SluiceProcess.run(["run", "--db", url, "--simulate"])
        let workers = try await [first, second]
        for worker in workers {
            #expect(worker.status == 0, "\(worker.stderr)")
            #expect(worker.stderr.contains("output: the lines are in the queue"), "\(worker.stderr)")
        }
        let status = try await SluiceProcess.run(["status", "--db", url, "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
        let counts = try #require((object["statistics"] as? [String: Any])?["counts"] as? [String: [String: Int]])
        let chunks = try #require(counts["call"]?["done"])
        #expect(chunks >= 12 && counts["call"]?["ready"] == nil)
        let output = directory.file("team.jsonl")
        let export = try await SluiceProcess.run(["export", "--db", url, "--output", output])
        #expect(export.status == 0 && export.stderr.contains("exported \(chunks) lines"), "\(export.stderr)")
        let lines = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == chunks)
        // --output has no meaning for a worker of a shared queue: said, not ignored.
        let refused = try await SluiceProcess.run(["run", "--db", url, "--simulate", "--output", output])
        #expect(refused.status == 3 && refused.stderr.contains("sluice export"))
    }
}
