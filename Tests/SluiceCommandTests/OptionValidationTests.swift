import Foundation
import SluiceTesting
import Testing

/// Numbers on the command line that would hang or crash a run are usage errors naming the option.
@Suite struct OptionValidationTests {
    @Test func numbersThatCannotWorkAreRefusedWithTheirName() async throws {
        let cases: [(String, String)] = [
            ("--tpm=0", "--tpm"), ("--tpm=-5", "--tpm"), ("--rpm=0", "--rpm"), ("--ptu=-1", "--ptu"),
            ("--timeout=inf", "--timeout"), ("--timeout=nan", "--timeout"), ("--timeout=-1", "--timeout"),
            ("--max-retry-after=inf", "--max-retry-after"), ("--max-attempts=-3", "--max-attempts"),
            ("--max-cost=inf", "--max-cost"), ("--progress-interval=0", "--progress-interval"),
        ]
        let directory = try TemporaryDirectory()
        for (argument, name) in cases {
            let result = try await SluiceProcess.run(["run", "--db", directory.path + "/s.db", argument])
            #expect(result.status == 64, "\(argument): exit \(result.status) \(result.stderr)")
            #expect(result.stderr.contains(name), "\(argument): \(result.stderr)")
            // Refused before anything was opened or written.
            #expect(!FileManager.default.fileExists(atPath: directory.path + "/s.db"), "\(argument)")
        }
    }
}
