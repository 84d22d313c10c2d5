import Foundation
import SluiceTesting
import Testing

/// `--output` never destroys a file that is not the run's own: not the queue database, not a file
/// no run of this database wrote (unless `--force`).
@Suite struct OutputGuardTests {
    /// The command tests' small pipeline.
    static let pipeline = QueueCommandTests.pipeline

    @Test func theDatabaseAndForeignFilesAreRefusedAndOwnOutputResumes() async throws {
        let directory = try TemporaryDirectory()
        try directory.write("docs/a.txt", "The first document has one sentence.")
        try directory.write("pipeline.yaml", Self.pipeline)
        let db = directory.file("s.db")
        let common = [directory.file("docs"), "--pipeline", directory.file("pipeline.yaml"), "--db", db, "--simulate"]
        try await SluiceProcess.run(["enqueue"] + Array(common.dropLast())).check()
        let size = try #require(try FileManager.default.attributesOfItem(atPath: db)[.size] as? Int)
        for target in [db, db + "-wal", db + "-shm", directory.path + "/./s.db"] {
            let refused = try await SluiceProcess.run(["run", "--db", db, "--simulate", "--output", target])
            #expect(refused.status == 3, "\(target): \(refused.stderr)")
            #expect(refused.stderr.contains("queue database"), "\(refused.stderr)")
        }
        // The database is whole (SQLite may checkpoint into it, so it can grow, never shrink) and still
        // holds the enqueued document.
        #expect(try #require(try FileManager.default.attributesOfItem(atPath: db)[.size] as? Int) >= size)
        #expect(try Data(contentsOf: URL(fileURLWithPath: db)).prefix(16) == Data("SQLite format 3\0".utf8))
        let status = try await SluiceProcess.run(["status", "--db", db])
        #expect(status.stdout.contains("documents: 1 ok"), "\(status.stdout)")
        // Somebody's notes: refused and kept, byte for byte.
        let notes = try directory.write("notes.md", "# My notes\n\nDo not lose these.\n")
        let refused = try await SluiceProcess.run(["run"] + common + ["--output", notes])
        #expect(refused.status == 3 && refused.stderr.contains("no run of this queue wrote"), "\(refused.stderr)")
        #expect(try String(contentsOfFile: notes, encoding: .utf8) == "# My notes\n\nDo not lose these.\n")
        // The run's own output file is resumed as before; --force replaces a foreign one.
        let output = directory.file("out.jsonl")
        try await SluiceProcess.run(["run"] + common + ["--output", output]).check()
        try await SluiceProcess.run(["run"] + common + ["--output", output]).check()
        try directory.write("docs/b.txt", "A second document, for the forced run to write.")
        let forced = try await SluiceProcess.run(["run"] + common + ["--output", notes, "--force"])
        #expect(forced.status == 0, "\(forced.stderr)")
        let replaced = try String(contentsOfFile: notes, encoding: .utf8)
        #expect(replaced.hasPrefix("{\"custom_id\"") && replaced.contains("b.txt"), "\(replaced)")
    }
}

extension OutputGuardTests {
    @Test func anOutputThatCannotBeWrittenStopsTheRunAtOnceAndTheRerunIsExact() async throws {
        let directory = try TemporaryDirectory()
        try directory.write("docs/a.txt", "The first document has one sentence.")
        try directory.write("docs/b.txt", "A second document, with another sentence.")
        try directory.write("pipeline.yaml", Self.pipeline)
        let common = [
            directory.file("docs"), "--pipeline", directory.file("pipeline.yaml"), "--db", directory.file("s.db"),
            "--simulate",
        ]
        // A full disk: the collector's first write fails, and every stage stops (not only that one).
        let full = try await SluiceProcess.run(["run"] + common + ["--output", "/dev/full"], timeoutSeconds: 60)
        #expect(full.status == 4, "exit \(full.status): \(full.stderr)")
        #expect(full.stderr.contains("/dev/full") && full.stderr.contains("No space left"), "\(full.stderr)")
        // The rerun to a writable file has every line once.
        let output = directory.file("out.jsonl")
        try await SluiceProcess.run(["run"] + common + ["--output", output], timeoutSeconds: 120).check()
        let lines = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2, "\(lines)")
    }
}

extension SluiceProcess.Output {
    /// Fails the test with the output when the command did not succeed.
    @discardableResult
    func check(sourceLocation: SourceLocation = #_sourceLocation) -> Self {
        #expect(status == 0, "exit \(status): \(stderr)", sourceLocation: sourceLocation)
        return self
    }
}
