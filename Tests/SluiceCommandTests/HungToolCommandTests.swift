import Foundation
import SluiceTesting
import Testing

/// A `pdftotext` that hangs and ignores SIGTERM, found on PATH before the real one: the PDF fails
/// alone at its deadline, SIGTERM still stops the run, and no copy of it outlives `sluice`, even one
/// killed with SIGKILL.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct HungToolCommandTests {
    let directory: TemporaryDirectory
    let environment: [String: String]

    init() throws {
        directory = try TemporaryDirectory()
        let fake = try directory.write(
            "bin/pdftotext", "#!/bin/sh\necho $$ >> \"$HUNG_PDFTOTEXT_PIDS\"\ntrap '' TERM\nexec sleep 300\n")
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: fake)
        try directory.write("docs/minutes.pdf", "%PDF-1.4 (the fake pdftotext never reads it)")
        try directory.write("docs/notes.txt", "The harbour crane is back in service on Monday.")
        environment = [
            "PATH": directory.file("bin") + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"),
            "HUNG_PDFTOTEXT_PIDS": directory.file("pids"),
        ]
    }

    func pipeline(timeout: Int) throws -> String {
        try directory.write(
            "p\(timeout).yaml",
            """
            name: hung
            model: gpt-4o-mini
            max_tokens: 40
            files: {extract_timeout: \(timeout)}
            messages:
              - role: user
                content: "{{chunk.text}}"
            """)
    }

    /// The fake's pids once it has started (a bounded number of short polls).
    func startedFakes() async throws -> [Int32] {
        for _ in 0..<400 {
            let pids = ((try? String(contentsOfFile: directory.file("pids"), encoding: .utf8)) ?? "")
                .split(whereSeparator: \.isNewline).compactMap { Int32($0) }
            if !pids.isEmpty { return pids }
            try await Task.sleep(for: .milliseconds(25))
        }
        return []
    }

    /// Whether a process has ended (gone, or a zombie waiting for whoever inherited it).
    static func ended(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return true }
        let state = stat[stat.index(after: close)...].split(separator: " ").first
        return state == "Z" || state == "X"
    }

    /// Polls until every pid has ended or about five seconds pass.
    static func allEnd(_ pids: [Int32]) async throws -> Bool {
        for _ in 0..<200 {
            if pids.allSatisfy(ended) { return true }
            try await Task.sleep(for: .milliseconds(25))
        }
        return false
    }

    @Test func aPDFThatHangsFailsAloneAtItsDeadline() async throws {
        let database = directory.file("q.db")
        let run = try await SluiceProcess.run(
            [
                "run", directory.file("docs"), "--pipeline", try pipeline(timeout: 1), "--simulate", "--db", database,
                "--output", directory.file("out.jsonl"),
            ], environment: environment, timeoutSeconds: 120)
        #expect(run.status == 1, "\(run.stderr)")
        let output = try String(contentsOfFile: directory.file("out.jsonl"), encoding: .utf8)
        #expect(output.contains("harbour crane"))
        let status = try await SluiceProcess.run(["status", "--db", database])
        #expect(
            status.stdout.contains("minutes.pdf: pdftotext did not finish within 1.0 seconds (files.extract_timeout)"),
            "\(status.stdout)")
        let fakes = try await startedFakes()
        #expect(!fakes.isEmpty)
        #expect(try await Self.allEnd(fakes))
    }

    @Test func sigtermStopsARunWaitingOnAHungPDFAndTheDocumentWaitsForTheResume() async throws {
        let database = directory.file("q.db")
        let process = try SluiceProcess.start(
            [
                "run", directory.file("docs"), "--pipeline", try pipeline(timeout: 100), "--simulate", "--db",
                database, "--output", directory.file("out.jsonl"),
            ], environment: environment)
        let fakes = try await startedFakes()
        try #require(!fakes.isEmpty)
        process.terminate()
        #expect(try await Self.allEnd([process.processIdentifier] + fakes))
        await process.exited()
        #expect(process.terminationStatus == 2)
        let status = try await SluiceProcess.run(["status", "--db", database, "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
        let statistics = try #require(object["statistics"] as? [String: Any], "\(status.stdout)")
        let stages = try #require(statistics["counts"] as? [String: [String: Int]], "\(status.stdout)")
        // The PDF was not read, not failed: it is read again on resume.
        #expect(stages["ingest"]?["failed"] ?? 0 == 0, "\(status.stdout)")
        #expect(stages["ingest"]?["ready"] == 1, "\(status.stdout)")
    }

    @Test func pdftotextDoesNotInheritTheRunsIgnoredSIGTERM() async throws {
        // `sluice run` ignores SIGTERM to handle it itself; what it starts must not inherit that.
        let fake = try directory.write(
            "bin/pdftotext",
            "#!/bin/sh\ngrep '^SigIgn:' /proc/self/status > \"$HUNG_PDFTOTEXT_PIDS.mask\"\necho 'Page one text.'\n")
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: fake)
        let run = try await SluiceProcess.run(
            [
                "run", directory.file("docs"), "--pipeline", try pipeline(timeout: 30), "--simulate", "--db",
                directory.file("q.db"), "--output", directory.file("out.jsonl"),
            ], environment: environment, timeoutSeconds: 120)
        #expect(run.status == 0, "\(run.stderr)")
        let line = try String(contentsOfFile: directory.file("pids.mask"), encoding: .utf8)
        let mask = try #require(
            UInt64(line.split(separator: "\t").last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "", radix: 16),
            "\(line)")
        #expect(mask & (1 << (UInt64(SIGTERM) - 1)) == 0, "SigIgn \(line)")
        #expect(mask & (1 << (UInt64(SIGINT) - 1)) == 0, "SigIgn \(line)")
    }

    @Test func aHungPDFDoesNotOutliveASluiceKilledWithSIGKILL() async throws {
        let process = try SluiceProcess.start(
            ["extract", directory.file("docs/minutes.pdf")], environment: environment)
        let fakes = try await startedFakes()
        try #require(!fakes.isEmpty)
        kill(process.processIdentifier, SIGKILL)
        await process.exited()
        #expect(try await Self.allEnd(fakes), "pdftotext outlived sluice: \(fakes)")
    }
}
