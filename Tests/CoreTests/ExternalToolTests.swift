import Foundation
import SluiceTesting
import Testing
import Tools

/// Programs Sluice runs (pdftotext, az), here played by shell scripts on a PATH of their own: a hang,
/// a flood on standard error, a flood on standard output, an inherited ignored signal.
@Suite struct ExternalToolTests {
    let directory: TemporaryDirectory

    init() throws { directory = try TemporaryDirectory() }

    /// Writes an executable script named `name` into the test's bin folder.
    func script(_ name: String, _ body: String) throws {
        let file = try directory.write("bin/\(name)", "#!/bin/sh\n" + body + "\n")
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: file)
    }

    func tool(_ name: String, _ arguments: [String] = [], timeout: Duration = .seconds(30), limit: Int = 1 << 20)
        -> ExternalTool
    {
        var tool = ExternalTool(name, arguments: arguments, timeout: timeout, outputLimit: limit)
        tool.searchPath = directory.file("bin") + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        return tool
    }

    /// Whether a process is gone (or dead and waiting to be reaped by whoever inherited it).
    static func isGone(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
        // The state follows the command name in parentheses, which may itself hold spaces.
        guard let close = stat.lastIndex(of: ")") else { return true }
        let state = stat[stat.index(after: close)...].split(separator: " ").first
        return state == "Z" || state == "X"
    }

    /// Waits (a bounded number of short polls) for a file a script writes its pids into.
    func pids(_ file: String, count: Int) async throws -> [Int32] {
        for _ in 0..<200 {
            let found = ((try? String(contentsOfFile: file, encoding: .utf8)) ?? "").split(
                whereSeparator: \.isWhitespace
            )
            .compactMap { Int32($0) }
            if found.count >= count { return found }
            try await Task.sleep(for: .milliseconds(25))
        }
        return []
    }

    @Test func aProgramIsFoundOnThePathAndItsOutputTaken() async throws {
        try script("sluice-fake-tool", "printf 'page one\\fpage two'; echo \"$1\" >&2; exit 0")
        let outcome = try await tool("sluice-fake-tool", ["an argument"]).run()
        #expect(outcome.succeeded)
        #expect(String(decoding: outcome.output, as: UTF8.self) == "page one\u{0C}page two")
        #expect(outcome.errorText == "an argument\n")
        do {
            _ = try await tool("sluice-no-such-tool").run()
            Issue.record("a missing program ran")
        } catch {
            #expect(error.reason == .notFound && error.message.contains("sluice-no-such-tool"))
        }
    }

    @Test func aHungProgramThatIgnoresSIGTERMIsKilledAtItsDeadlineWithItsChildren() async throws {
        let pidFile = directory.file("pids")
        // Ignores SIGTERM, starts a child that ignores it too, and never ends.
        try script(
            "sluice-hang",
            "trap '' TERM\nsleep 300 &\necho $$ $! > '\(pidFile)'\nwait")
        let start = ContinuousClock.now
        do {
            _ = try await tool("sluice-hang", timeout: .milliseconds(700)).run()
            Issue.record("a hung program returned")
        } catch {
            #expect(error.reason == .timedOut && error.message.contains("sluice-hang"), "\(error.message)")
        }
        // Not its own 300 s: it was stopped (the bound is loose, a loaded machine delays timers).
        #expect(ContinuousClock.now - start < .seconds(150))
        let pids = try await pids(pidFile, count: 2)
        #expect(pids.count == 2)
        // SIGKILL was sent before the failure was reported; the kernel ends them within moments.
        for _ in 0..<100 where !pids.allSatisfy(Self.isGone) { try await Task.sleep(for: .milliseconds(20)) }
        #expect(pids.allSatisfy(Self.isGone), "left running: \(pids.filter { !Self.isGone($0) })")
    }

    @Test func aProgramEndedByTheDeadlinesSIGTERMIsATimeoutNotItsOwnFailure() async throws {
        // Stops at SIGTERM (the default): its exit comes in the grace period, before the timer's report.
        try script("sluice-polite", "exec sleep 300")
        do {
            let outcome = try await tool("sluice-polite", timeout: .milliseconds(300)).run()
            Issue.record(
                "reported as its own end: exit \(String(describing: outcome.exitStatus)), signal \(String(describing: outcome.signal))"
            )
        } catch {
            #expect(error.reason == .timedOut, "\(error.message)")
        }
    }

    @Test func aFloodOnStandardErrorIsDrainedNotADeadlock() async throws {
        // 4 MiB on standard error (a pipe holds 64 KiB): unread, the program blocks forever.
        try script("sluice-noisy", "head -c 4194304 /dev/zero | tr '\\0' 'e' >&2\necho done")
        let outcome = try await tool("sluice-noisy", timeout: .seconds(60)).run()
        #expect(outcome.succeeded)
        #expect(String(decoding: outcome.output, as: UTF8.self) == "done\n")
        #expect(outcome.errorText.count == 16 << 10 && outcome.errorText.allSatisfy { $0 == "e" })
    }

    @Test func outputPastTheCapStopsTheProgram() async throws {
        let pidFile = directory.file("pid")
        try script("sluice-gush", "echo $$ > '\(pidFile)'\nexec yes 'a line of text'")
        do {
            _ = try await tool("sluice-gush", timeout: .seconds(60), limit: 100_000).run()
            Issue.record("unbounded output was taken")
        } catch {
            #expect(error.reason == .outputTooLarge && error.message.contains("100000"), "\(error.message)")
        }
        let pids = try await pids(pidFile, count: 1)
        #expect(pids.count == 1 && pids.allSatisfy(Self.isGone))
    }

    @Test func signalsIgnoredHereAreNotIgnoredThere() async throws {
        // The run ignores SIGTERM to handle it itself; a child must not inherit that. SIGUSR2 stands in
        // for it here (ignoring SIGTERM would change how the test runner itself can be stopped).
        signal(SIGUSR2, SIG_IGN)
        try script("sluice-signals", "grep '^SigIgn:' /proc/self/status")
        let outcome = try await tool("sluice-signals").run()
        let line = String(decoding: outcome.output, as: UTF8.self)
        let mask = UInt64(
            line.split(separator: "\t").last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "", radix: 16)
        #expect(mask != nil, "\(line)")
        #expect((mask ?? 1) & (1 << (UInt64(SIGUSR2) - 1)) == 0, "\(line)")
        #expect((mask ?? 1) & (1 << (UInt64(SIGTERM) - 1)) == 0, "\(line)")
    }

    @Test func hungProgramsDoNotHoldTheCooperativePool() async throws {
        // More hung programs than the pool has threads: a blocking wait would starve every other task
        // until the programs end (here at their 10 s deadline), so the short task would finish last.
        try script("sluice-still", "exec sleep 300")
        let order = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<(ProcessInfo.processInfo.activeProcessorCount * 2 + 2) {
                group.addTask {
                    _ = try? await tool("sluice-still", timeout: .seconds(10)).run()
                    return "program"
                }
            }
            group.addTask {
                try await Task.sleep(for: .milliseconds(200))
                return "short task"
            }
            var order: [String] = []
            for try await event in group { order.append(event) }
            return order
        }
        #expect(order.first == "short task", "\(order)")
    }
}
