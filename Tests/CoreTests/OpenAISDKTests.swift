import Foundation
import Simulator
import SluiceTesting
import Testing

/// The simulator's chat and Files and Batches API, read by the official OpenAI Python SDK
/// (`Tests/SDK/openai_sdk_check.py`, `openai` as `.ci/run` installs it): each answer validates
/// against the SDK's own types, through the Azure client and on the v1 surface.
@Suite struct OpenAISDKTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// A Python with the `openai` package: $SLUICE_TEST_PYTHON, or the venv `.ci/run` makes.
    static var python: URL? {
        let environment = ProcessInfo.processInfo.environment
        let candidates: [String?] = [
            environment["SLUICE_TEST_PYTHON"], root.appendingPathComponent(".build/sdk-venv/bin/python").path,
        ]
        return candidates.compactMap { $0 }.first { FileManager.default.isExecutableFile(atPath: $0) }.map {
            URL(fileURLWithPath: $0)
        }
    }

    @Test func theOfficialSDKReadsTheSimulatorsAnswers() async throws {
        guard let python = Self.python else {
            // In CI the SDK is installed: its absence fails the test there.
            if ProcessInfo.processInfo.environment["CI"] != nil {
                Issue.record("no Python with the openai package (.ci/run makes .build/sdk-venv)")
            } else {
                print("OpenAI SDK check skipped: no .build/sdk-venv (run .ci/run, or set SLUICE_TEST_PYTHON)")
            }
            return
        }
        let server = try await SimulatorServer.start(
            configuration: SimulatorConfiguration(
                deployments: [.init(name: "sim-batch", kind: .batch(enqueuedTokens: 100_000), model: "gpt-4o-mini")],
                baseLatency: 0.001, perTokenLatency: 0, speedUp: 50, replyTokens: 8))
        let result = try await SluiceProcess.run(
            program: python, [Self.root.appendingPathComponent("Tests/SDK/openai_sdk_check.py").path, server.endpoint],
            timeoutSeconds: 120)
        try await server.stop()
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.hasSuffix("ok\n"), "\(result.stdout)")
        #expect(result.stdout.contains("azure-v1: lists page"), "\(result.stdout)")
    }
}
