import Foundation
import Queue
import SluiceTesting
import Testing

/// `enqueue`, `run --simulate`, `status`, `retry` and the exit statuses, as a user runs them.
@Suite struct QueueCommandTests {
    static let pipeline = """
        name: cli
        model: gpt-4o-mini
        max_tokens: 20
        chunking: {max_tokens: 200}
        messages:
          - role: user
            content: "Summarize: {{chunk.text}}"
        """

    @Test func enqueueRunStatusRetry() async throws {
        let directory = try TemporaryDirectory()
        try directory.write("docs/a.txt", "The first document has one sentence.")
        try directory.write("docs/sub/b.md", "# Title\n\nA second document, in Markdown.")
        try directory.write("docs/blocked.txt", "This one says SLUICE-CONTENT-FILTER and is refused.")
        try directory.write("docs/diagram.png", "PNG")
        try directory.write("pipeline.yaml", Self.pipeline)
        let db = directory.file("q.db")
        let common = ["--pipeline", directory.file("pipeline.yaml"), "--db", db]

        let first = try await SluiceProcess.run(["enqueue", directory.file("docs")] + common)
        #expect(first.status == 0)
        #expect(first.stdout == "documents: 3 new, 0 changed, 0 unchanged, 1 skipped, 0 deleted\n")
        #expect(first.stderr.contains("diagram.png: unsupported format .png"))
        let again = try await SluiceProcess.run(["enqueue", directory.file("docs")] + common + ["--json"])
        let counts = try #require(try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as? [String: Int])
        #expect(counts == ["new": 0, "changed": 0, "unchanged": 3, "skipped": 1, "deleted": 0])

        let run = try await SluiceProcess.run(["run", "--db", db, "--simulate", "--json"])
        #expect(run.status == 1, "a chunk failed for good: \(run.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect(summary["chunks"] as? Int == 3)
        #expect(summary["chunksFailed"] as? Int == 1)
        #expect(run.stderr.contains("failures: 1 content_filter"))
        let output = try String(contentsOfFile: directory.file("q.jsonl"), encoding: .utf8)
        #expect(output.split(separator: "\n").count == 3)
        // The export, rebuilt from the queue alone, is the run's output to the byte.
        let export = try await SluiceProcess.run(["export", "--db", db, "--output", directory.file("export.jsonl")])
        #expect(export.status == 0 && export.stderr.contains("exported 3 lines"), "\(export.stderr)")
        #expect(try String(contentsOfFile: directory.file("export.jsonl"), encoding: .utf8) == output)
        let none = try await SluiceProcess.run(
            ["export", "--db", db, "--output", directory.file("none.jsonl"), "--run", "nosuch"])
        #expect(none.status == 3 && none.stderr.contains("no run of a pipeline named 'nosuch'"))

        let status = try await SluiceProcess.run(["status", "--db", db])
        #expect(status.stdout.contains("failures: 1 content_filter"))
        #expect(status.stdout.contains("blocked.txt"))

        let retry = try await SluiceProcess.run(["retry", "--db", db])
        #expect(retry.stdout == "1 failed jobs queued again\n")
        let rerun = try await SluiceProcess.run(["run", "--db", db, "--simulate"])
        #expect(rerun.status == 1)
        #expect(rerun.stderr.contains("calls: 1 sent"))
    }

    @Test func anEditThatKeepsSizeAndModificationTimeIsStillSeen() async throws {
        let directory = try TemporaryDirectory()
        let file = try directory.write("docs/a.txt", "The price is 100 euros.")
        try directory.write("pipeline.yaml", Self.pipeline)
        let common = [
            directory.file("docs"), "--pipeline", directory.file("pipeline.yaml"), "--db", directory.file("q.db"),
        ]
        #expect(try await SluiceProcess.run(["enqueue"] + common).stdout.hasPrefix("documents: 1 new"))
        let modified = try #require(try FileManager.default.attributesOfItem(atPath: file)[.modificationDate] as? Date)
        // Same size, and the modification time put back as `touch -r` does.
        try Data("The price is 900 euros.".utf8).write(to: URL(fileURLWithPath: file))
        try FileManager.default.setAttributes([.modificationDate: modified], ofItemAtPath: file)
        let again = try await SluiceProcess.run(["enqueue"] + common)
        #expect(again.stdout == "documents: 0 new, 1 changed, 0 unchanged, 0 skipped, 0 deleted\n", "\(again.stderr)")
        let still = try await SluiceProcess.run(["enqueue"] + common)
        #expect(still.stdout == "documents: 0 new, 0 changed, 1 unchanged, 0 skipped, 0 deleted\n")
    }

    @Test func controlCharactersInFileNamesNeverReachTheTerminalRaw() async throws {
        let directory = try TemporaryDirectory()
        try directory.write("docs/evil\u{1B}[31mred\nline.png", "PNG")
        try directory.write("docs/title\u{1B}]0;owned\u{07}.txt", "This one says SLUICE-CONTENT-FILTER and is refused.")
        try directory.write("pipeline.yaml", Self.pipeline)
        let db = directory.file("q.db")
        let enqueue = try await SluiceProcess.run(
            ["enqueue", directory.file("docs"), "--pipeline", directory.file("pipeline.yaml"), "--db", db])
        let run = try await SluiceProcess.run(["run", "--db", db, "--simulate"])
        let status = try await SluiceProcess.run(["status", "--db", db])
        for (name, text) in [("enqueue", enqueue.stderr), ("run", run.stderr), ("status", status.stdout)] {
            #expect(!text.unicodeScalars.contains { $0 == "\u{1B}" || $0 == "\u{07}" }, "\(name): \(text)")
        }
        #expect(enqueue.stderr.contains("evil\\u{1B}[31mred\\nline.png: unsupported format .png"), "\(enqueue.stderr)")
        // One line per skipped file: the name's newline did not split it.
        #expect(enqueue.stderr.split(separator: "\n").filter { $0.contains("unsupported format") }.count == 1)
    }

    @Test func statusListsTheWorkersThatBeat() async throws {
        let directory = try TemporaryDirectory()
        let db = directory.file("q.db")
        let queue = try SQLiteJobQueue(path: db)
        let now = Date().timeIntervalSince1970
        try await queue.heartbeat(owner: "host-a:41:live", now: now - 50)
        try await queue.heartbeat(owner: "host-a:41:live", now: now)
        try await queue.heartbeat(owner: "host-b:42:gone", now: now - 600)
        let status = try await SluiceProcess.run(["status", "--db", db])
        #expect(status.stdout.contains("workers: 1 running"), "\(status.stdout)")
        // Up since its first beat (50 s before this test's "now", however slow the status starts).
        let line = status.stdout.split(separator: "\n").first { $0.contains("host-a:41:live: up ") }
        let up = line.flatMap { Int($0.split(separator: " ").dropFirst(2).first ?? "") }
        #expect((up ?? 0) >= 50, "\(status.stdout)")
        #expect(!status.stdout.contains("host-b"))
    }

    @Test func statusReadsADatabaseThisUserMayNotWrite() async throws {
        let directory = try TemporaryDirectory()
        try directory.write("docs/a.txt", "The first document has one sentence.")
        try directory.write("pipeline.yaml", Self.pipeline)
        let folder = directory.file("shared")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let db = folder + "/q.db"
        try await SluiceProcess.run([
            "run", directory.file("docs"), "--pipeline", directory.file("pipeline.yaml"), "--db", db, "--simulate",
        ]).check()
        // Read-only, folder and file (no -shm can be made), as a colleague's copy on a shared drive.
        for item in try FileManager.default.contentsOfDirectory(atPath: folder) where item.hasPrefix("q.db-") {
            try FileManager.default.removeItem(atPath: folder + "/" + item)
        }
        chmod(db, 0o444)
        chmod(folder, 0o555)
        defer { chmod(folder, 0o755) }
        var arguments = ["status", "--db", db]
        var program = SluiceProcess.executable.path
        let bin = try TemporaryDirectory()
        if getuid() == 0 {
            // Root may write anything: ask as nobody, with a copy of the binary that user can run.
            chmod(bin.path, 0o755)
            try FileManager.default.copyItem(atPath: program, toPath: bin.file("sluice"))
            chmod(directory.path, 0o755)
            arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", bin.file("sluice")] + arguments
            program = "/usr/bin/setpriv"
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readAllRetryingInterrupts(), as: UTF8.self)
        let problem = String(decoding: err.fileHandleForReading.readAllRetryingInterrupts(), as: UTF8.self)
        await process.exited()
        #expect(process.terminationStatus == 0, "\(problem)")
        #expect(text.contains("prompt") && text.contains("documents: 1 ok"), "\(text)")
    }

    @Test func missingConfigurationIsAClearErrorWithItsOwnStatus() async throws {
        let directory = try TemporaryDirectory()
        try directory.write("docs/a.txt", "Text.")
        try directory.write("pipeline.yaml", Self.pipeline)
        let output = try await SluiceProcess.run(
            [
                "run", directory.file("docs"), "--pipeline", directory.file("pipeline.yaml"), "--db",
                directory.file("q.db"),
            ],
            environment: ["AZURE_OPENAI_ENDPOINT": "", "AZURE_OPENAI_API_KEY": ""])
        #expect(output.status == 3)
        #expect(output.stderr.contains("no endpoint"))
        let broken = try directory.write(
            "broken.yaml", "model: gpt-4o\nmax_tokens: ten\nmessages: [{role: user, content: x}]")
        let bad = try await SluiceProcess.run([
            "enqueue", directory.file("docs"), "--pipeline", broken, "--db", directory.file("q.db"),
        ])
        #expect(bad.status == 3)
        #expect(bad.stderr.contains("broken.yaml:2: field 'max_tokens'"))
    }
}
