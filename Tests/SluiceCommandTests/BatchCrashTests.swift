import Foundation
import Queue
import SluiceTesting
import Testing

/// `kill -9` of `sluice run` on a batch deployment at every step of a batch's life — while its
/// input file is being uploaded, between a batch's creation and its record, while batches run,
/// while their output is committed — and at random moments, then a resume: one line per chunk, no
/// line that succeeded submitted again, no file uploaded twice for the same lines.
@Suite(.serialized, .timeLimit(.minutes(6)))
struct BatchCrashTests {
    static let pipeline = """
        name: batch-crash
        model: gpt-4o-mini
        max_tokens: 30
        chunking: {max_tokens: 120, overlap: 0}
        messages:
          - role: user
            content: "Summarize: {{chunk.text}}"
        """

    /// When a round's kill comes: at a batch step (seen in the queue), or at a random moment.
    enum Moment: CustomStringConvertible {
        case random(ClosedRange<UInt64>)
        case uploading, creating, running, committing

        var description: String {
            switch self {
            case .random: "a random moment"
            case .uploading: "an upload sent, its answer not recorded"
            case .creating: "a creation sent, its answer not recorded"
            case .running: "batches running"
            case .committing: "a batch ended, its output being read and its lines committed"
            }
        }

        func reached(_ batches: [BatchRecord]) -> Bool {
            switch self {
            case .random: false
            case .uploading: batches.contains { $0.uploadSent }
            case .creating: batches.contains { $0.creationSent }
            case .running: batches.contains { $0.step == .submitted && $0.completed > 0 }
            case .committing: batches.contains { $0.step == .ended }
            }
        }
    }

    static let moments: [Moment] = [
        .random(50_000...600_000), .uploading, .creating, .running, .committing, .random(300_000...1_500_000),
        .uploading, .creating, .running, .committing, .random(0...2_000_000),
    ]

    /// It starts dozens of processes: it takes its turn with the timing-sensitive tests instead of
    /// starving their cores.
    @Test(arguments: QueueBackend.available) func killedBatchRunsResumeExactlyOnce(_ backend: QueueBackend)
        async throws
    {
        try await TimingSensitive.exclusively { try await killAndResume(backend) }
    }

    func killAndResume(_ backend: QueueBackend) async throws {
        let directory = try TemporaryDirectory()
        for index in 0..<40 {
            try directory.write(
                "docs/doc-\(index).txt",
                DocumentFactory.document(seed: 100 + index, paragraphs: 1 + index % 4, wordsPerParagraph: 40))
        }
        try directory.write("pipeline.yaml", Self.pipeline)
        // Uploads, creations and downloads are answered 0.4 s after they took effect, and a batch runs
        // about ten lines a second: a kill falls in each window however loaded the machine is.
        let simulator = try SimulatorProcess(arguments: [
            "--batch-deployment", "gpt-batch", "--enqueued-tokens", "2500", "--batch-pending", "2",
            "--batch-validation", "2", "--batch-lines-per-second", "1", "--speedup", "10",
            "--batch-answer-delay", "0.4", "--reply-tokens", "12",
        ])
        try directory.write(
            "deployments.yaml",
            """
            deployments:
              gpt-batch:
                endpoint: \(simulator.endpoint)
                model: gpt-4o-mini
                kind: batch
                enqueued_tokens: 2500
                batch_poll: 0.1
            """)
        let output = directory.file("out.jsonl")
        let postgres = backend == .postgres ? try await PostgresTestServer.shared.database() : nil
        let database =
            postgres.map { "postgres://\($0.user)@\($0.host):\($0.port)/\($0.database)?sslmode=disable" }
            ?? directory.file("queue.db")
        func batches() async throws -> [BatchRecord] {
            guard let postgres else {
                guard FileManager.default.fileExists(atPath: database) else { return [] }
                return (try? await SQLiteJobQueue(path: database).batches(all: true)) ?? []
            }
            let queue = try await PostgresJobQueue(location: postgres)
            let records = (try? await queue.batches(all: true)) ?? []
            await queue.close()
            return records
        }
        let arguments =
            ["run", directory.file("docs"), "--pipeline", directory.file("pipeline.yaml"), "--db", database]
            + (postgres == nil ? ["--output", output] : [])
            + ["--deployments", directory.file("deployments.yaml"), "--timeout", "5"]
        let environment = ["AZURE_OPENAI_API_KEY": "sim-key"]
        var generator = SystemRandomNumberGenerator()
        var reached: [String] = []
        for moment in Self.moments {
            let process = try SluiceProcess.start(arguments, environment: environment)
            switch moment {
            case .random(let range):
                try await Task.sleep(for: .microseconds(UInt64.random(in: range, using: &generator)))
            default:
                let deadline = Date().addingTimeInterval(30)
                while process.isRunning, Date() < deadline, !moment.reached(try await batches()) {
                    try await Task.sleep(for: .milliseconds(10))
                }
                if moment.reached(try await batches()) { reached.append(moment.description) }
            }
            kill(process.processIdentifier, SIGKILL)
            await process.exited()
        }
        let final = try await SluiceProcess.run(arguments, environment: environment)
        #expect(final.status == 0, "\(final.stderr)")
        // Each step's window was hit at least once.
        for moment in [Moment.uploading, .creating, .running, .committing] {
            #expect(reached.contains(moment.description), "never killed at \(moment): \(reached)")
        }
        if postgres != nil {
            let export = try await SluiceProcess.run(["export", "--db", database, "--output", output])
            #expect(export.status == 0, "\(export.stderr)")
        }
        let data = try Data(contentsOf: URL(fileURLWithPath: output))
        var ids = Set<String>()
        for line in data.split(separator: UInt8(ascii: "\n")) {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
            let id = try #require(object["custom_id"] as? String)
            #expect(ids.insert(id).inserted, "duplicate line for \(id)")
            let sluice = try #require(object["sluice"] as? [String: Any])
            #expect(sluice["lane"] as? String == "batch" && sluice["batch_id"] is String)
            let document = try #require(sluice["document"] as? String)
            let body = try #require((object["response"] as? [String: Any])?["body"] as? [String: Any])
            let content = try #require(
                ((body["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"] as? String)
            let text = try String(contentsOfFile: directory.file("docs/" + document), encoding: .utf8)
                .split(whereSeparator: \.isWhitespace).joined(separator: " ")
            let echo = content.replacingOccurrences(of: "Echo: Summarize: ", with: "").split(separator: " ")
                .prefix(5).joined(separator: " ")
            #expect(text.contains(echo), "\(document): \(content)")
        }
        let status = try await SluiceProcess.run(["status", "--db", database, "--json"])
        let counts = try #require(
            ((try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])?["statistics"]
                as? [String: Any])?["counts"] as? [String: [String: Int]])
        #expect(counts["call"]?["failed"] == nil || counts["call"]?["failed"] == 0)
        #expect(ids.count == counts["call"]?["done"] && ids.count > 40)
        // No line that succeeded went into a second batch, and no line was uploaded twice.
        let statistics = try await simulator.statistics()
        let submitted = try #require(statistics["batchLinesByCustomID"] as? [String: Int])
        let uploaded = try #require(statistics["uploadedLinesByCustomID"] as? [String: Int])
        #expect(Set(submitted.keys) == ids)
        #expect(submitted.filter { $0.value != 1 }.isEmpty, "submitted again: \(submitted.filter { $0.value != 1 })")
        #expect(uploaded.filter { $0.value != 1 }.isEmpty, "uploaded again: \(uploaded.filter { $0.value != 1 })")
        // Every batch is done and its files deleted on the service.
        let records = try await batches()
        #expect(records.allSatisfy { $0.step == .done })
        #expect(statistics["filesDeleted"] as? Int == 2 * records.count, "\(statistics["filesDeleted"] ?? "?")")
        // A finished run submits nothing more.
        let again = try await SluiceProcess.run(arguments, environment: environment)
        #expect(again.status == 0)
        #expect(try await simulator.statistics()["batchesCreated"] as? Int == statistics["batchesCreated"] as? Int)
    }
}
