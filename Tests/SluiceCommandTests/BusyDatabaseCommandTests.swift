import Foundation
import Queue
import SluiceTesting
import Testing

/// `enqueue`, `retry` and `status` from other processes while `sluice run` works its database, and
/// a second `run` that refuses.
@Suite(.timeLimit(.minutes(3)))
struct BusyDatabaseCommandTests {
    @Test func otherCommandsWorkWhileARunWorksAndASecondRunRefuses() async throws {
        let directory = try TemporaryDirectory()
        for index in 0..<40 { try directory.write("first/f\(index).txt", "First batch, document \(index).") }
        for index in 0..<3 { try directory.write("second/s\(index).txt", "Second batch, document \(index).") }
        try directory.write("third/t0.txt", "A third folder that the refused run must not enqueue.")
        let pipeline = try directory.write(
            "p.yaml",
            """
            name: busy
            model: gpt-4o-mini
            max_tokens: 20
            messages:
              - role: user
                content: "{{chunk.text}}"
            """)
        // 0.3 s a call, one at a time: the run works for twelve seconds or more.
        let simulator = try SimulatorProcess(arguments: ["--latency", "0.3", "--reply-tokens", "5"])
        let database = directory.file("q.db")
        let output = directory.file("out.jsonl")
        let target = ["--endpoint", simulator.endpoint, "--deployment", "sim", "--concurrency", "1"]
        let environment = ["AZURE_OPENAI_API_KEY": "sim-key"]
        let run = try SluiceProcess.start(
            ["run", directory.file("first"), "--pipeline", pipeline, "--db", database, "--output", output] + target,
            environment: environment)
        // Bounded wait for the run's first committed result.
        for _ in 0..<3_000 {
            if FileManager.default.fileExists(atPath: database),
                try await !SQLiteJobQueue(path: database).storedUnitKeys().isEmpty
            {
                break
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        try #require(run.isRunning)

        let enqueue = try await SluiceProcess.run(
            ["enqueue", directory.file("second"), "--pipeline", pipeline, "--db", database], timeoutSeconds: 60)
        #expect(enqueue.status == 0, "\(enqueue.stderr)")
        let status = try await SluiceProcess.run(["status", "--db", database], timeoutSeconds: 60)
        #expect(status.status == 0 && status.stdout.contains("ingest"), "\(status.stderr)")
        let retry = try await SluiceProcess.run(["retry", "--db", database], timeoutSeconds: 60)
        #expect(retry.status == 0, "\(retry.stderr)")

        let second = try await SluiceProcess.run(
            ["run", directory.file("third"), "--pipeline", pipeline, "--db", database, "--output", output] + target,
            environment: environment, timeoutSeconds: 60)
        #expect(second.status == 4)
        #expect(
            second.stderr.contains("another `sluice run` is working this database (pid \(run.processIdentifier)"),
            "\(second.stderr)")

        await run.exited()
        #expect(run.terminationStatus == 0)
        let data = try Data(contentsOf: URL(fileURLWithPath: output))
        let documents = try data.split(separator: UInt8(ascii: "\n")).map { line in
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
            return try #require((object["sluice"] as? [String: Any])?["document"] as? String)
        }
        // The first folder and the one enqueued while it ran, once each; nothing of the refused run.
        #expect(documents.sorted() == ((0..<40).map { "f\($0).txt" } + (0..<3).map { "s\($0).txt" }).sorted())
    }
}
