import Foundation
import Queue
import SluiceTesting
import Testing

/// `kill -9` of `sluice run` at random moments, then a resume: the output holds exactly one complete
/// line per chunk (and, map-reduce, per document), and no call whose result was committed is sent again.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct CrashResumeTests {
    static let pipeline = """
        name: crash-test
        model: gpt-4o-mini
        max_tokens: 40
        chunking: {max_tokens: 120, overlap: 10}
        messages:
          - role: system
            content: Summarize.
          - role: user
            content: "{{chunk.text}}"
        """

    /// The same with a reduce step over each document's chunk results.
    static let mapReduce =
        pipeline + """

            reduce:
              max_tokens: 40
              max_input_tokens: 400
              messages:
                - role: user
                  content: "Combine {{document.path}}: {{#results}}{{text}} {{/results}}"
            """

    /// The cases: a plain and a map-reduce pipeline on SQLite, and the plain one on PostgreSQL.
    static let cases: [(mapReduce: Bool, backend: QueueBackend)] =
        [(false, .sqlite), (true, .sqlite)] + (PostgresTestServer.available ? [(false, .postgres)] : [])

    @Test(arguments: cases) func killedRunsResumeExactlyOnce(mapReduce: Bool, backend: QueueBackend) async throws {
        let directory = try TemporaryDirectory()
        for index in 0..<80 {
            try directory.write(
                "docs/doc-\(index).txt",
                DocumentFactory.document(seed: index, paragraphs: 1 + index % 5, wordsPerParagraph: 50))
        }
        try directory.write("pipeline.yaml", mapReduce ? Self.mapReduce : Self.pipeline)
        let simulator = try SimulatorProcess(arguments: [
            "--latency", "0.03", "--per-token-latency", "0.001", "--reply-tokens", "20", "--fault-500", "0.05",
            "--fault-reset", "0.03", "--fault-truncate", "0.03", "--seed", "7",
        ])
        let output = directory.file("out.jsonl")
        // On PostgreSQL the lines stay in the queue and are exported at the end.
        let postgres = backend == .postgres ? try await PostgresTestServer.shared.database() : nil
        let database =
            postgres.map { "postgres://\($0.user)@\($0.host):\($0.port)/\($0.database)?sslmode=disable" }
            ?? directory.file("queue.db")
        func committedKeys() async throws -> [String] {
            guard let postgres else { return try await SQLiteJobQueue(path: database).storedUnitKeys() }
            let queue = try await PostgresJobQueue(location: postgres)
            let keys = try await queue.storedUnitKeys()
            await queue.close()
            return keys
        }
        func outputLines() async throws -> Data {
            if postgres != nil {
                let export = try await SluiceProcess.run(["export", "--db", database, "--output", output])
                #expect(export.status == 0, "\(export.stderr)")
            }
            return try Data(contentsOf: URL(fileURLWithPath: output))
        }
        let arguments =
            ["run", directory.file("docs"), "--pipeline", directory.file("pipeline.yaml"), "--db", database]
            + (postgres == nil ? ["--output", output] : [])
            + ["--endpoint", simulator.endpoint, "--deployment", "sim", "--concurrency", "8", "--timeout", "5"]
        let environment = ["AZURE_OPENAI_API_KEY": "sim-key"]
        var generator = SystemRandomNumberGenerator()
        let kills = 8
        // After each kill: the simulator's arrival count, and the units whose results were committed.
        var checkpoints: [(arrivals: Int, committed: Set<String>)] = []
        for round in 0..<kills {
            let process = try SluiceProcess.start(arguments, environment: environment)
            if round % 2 == 1 {
                // Every other kill comes just after this process committed results of its own (however
                // slow a debug build starts), the others at any moment, startup included.
                let before = try await committedKeys().count
                let deadline = Date().addingTimeInterval(20)
                while try await committedKeys().count == before,
                    process.isRunning, Date() < deadline
                {
                    try await Task.sleep(for: .milliseconds(5))
                }
                try await Task.sleep(for: .microseconds(UInt64.random(in: 0...200_000, using: &generator)))
            } else {
                try await Task.sleep(for: .microseconds(UInt64.random(in: 20_000...700_000, using: &generator)))
            }
            kill(process.processIdentifier, SIGKILL)
            await process.exited()
            let arrivals = try #require(try await simulator.statistics()["requests"] as? Int)
            let committed = try await committedKeys().map { "sluice-" + $0.prefix(32) }
            checkpoints.append((arrivals, Set(committed)))
        }
        let final = try await SluiceProcess.run(arguments, environment: environment)
        #expect(final.status == 0, "\(final.stderr)")

        let data = try await outputLines()
        #expect(data.last == UInt8(ascii: "\n"))
        var ids = Set<String>()
        var lines = 0
        var summaries: [String: Int] = [:]
        for line in data.split(separator: UInt8(ascii: "\n")) {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
            let id = try #require(object["custom_id"] as? String)
            #expect(ids.insert(id).inserted, "duplicate line for \(id)")
            let sluice = try #require(object["sluice"] as? [String: Any])
            let document = try #require(sluice["document"] as? String)
            let response = try #require(object["response"] as? [String: Any])
            let body = try #require(response["body"] as? [String: Any])
            let choices = try #require(body["choices"] as? [[String: Any]])
            let content = try #require((choices.first?["message"] as? [String: Any])?["content"] as? String)
            lines += 1
            switch sluice["kind"] as? String {
            case "document":
                summaries[document, default: 0] += 1
                #expect(content.hasPrefix("Echo: Combine \(document):"), "\(content)")
                continue
            case "reduce":
                #expect(content.hasPrefix("Echo: Combine \(document):"), "\(content)")
                continue
            default:
                break
            }
            // The simulator echoes the chunk's first words: the result belongs to this document's chunk.
            let text = try String(contentsOfFile: directory.file("docs/" + document), encoding: .utf8)
                .split(whereSeparator: \.isWhitespace).joined(separator: " ")
            let echo = content.replacingOccurrences(of: "Echo: ", with: "").split(separator: " ").prefix(6).joined(
                separator: " ")
            #expect(echo.split(separator: " ").count == 6 && text.contains(echo), "\(document): \(echo)")
        }
        if mapReduce {
            // Every document whose chunks all succeeded has exactly one summary; the others none.
            let failed = try await SluiceProcess.run(["status", "--db", database, "--json"])
            let failures =
                (try JSONSerialization.jsonObject(with: Data(failed.stdout.utf8)) as? [String: Any])?[
                    "failures"] as? [[String: Any]] ?? []
            let incomplete = failures.filter { $0["stage"] as? String == "reduce" }.count
            #expect(summaries.values.allSatisfy { $0 == 1 })
            #expect(summaries.count + incomplete == 80, "\(summaries.count) summaries, \(incomplete) incomplete")
            #expect(summaries.count >= 70)
        }
        let status = try await SluiceProcess.run(["status", "--db", database, "--json"])
        let statistics = try #require(
            (try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])?["statistics"]
                as? [String: Any])
        let counts = try #require(statistics["counts"] as? [String: [String: Int]])
        let chunks = (counts["call"]?["done"] ?? 0) + (counts["call"]?["failed"] ?? 0)
        #expect(chunks > 150)
        #expect(lines == chunks)
        #expect(counts["collect"]?["done"] == chunks)

        // No call whose result was committed was sent again: after each kill, no request arrived for a
        // unit that was committed by then. (Calls in flight or not yet committed may be repeated.)
        let stats = try await simulator.statistics()
        let arrivals = try #require(stats["arrivalsByClientID"] as? [String: [Int]])
        #expect(checkpoints.contains { !$0.committed.isEmpty })
        for checkpoint in checkpoints {
            for id in checkpoint.committed {
                let later = (arrivals[id] ?? []).filter { $0 > checkpoint.arrivals }
                #expect(later.isEmpty, "\(id) was committed, then sent again")
            }
        }
        let completed = try #require(stats["completedByClientID"] as? [String: Int])
        #expect(Set(completed.keys).isSuperset(of: ids), "every line's call was completed by the service")

        // A finished run sends nothing more.
        let requestsBefore = try #require(stats["requests"] as? Int)
        let again = try await SluiceProcess.run(arguments, environment: environment)
        #expect(again.status == 0)
        let requestsAfter = try await simulator.statistics()["requests"] as? Int
        #expect(requestsAfter == requestsBefore)
        #expect(try await outputLines() == data)
    }
}
