import Foundation
import SluiceTesting
import Testing

/// Two `sluice run` processes, each with its own database, share one deployment of a simulator
/// process (time sped up 5 times). Each is told the whole TPM; they must learn from the
/// remaining-tokens headers that the other one is there. Without that, together they send twice the
/// quota's rate, which the 1-second RPM windows answer with a storm of 429s (checked with the learning
/// switched off: 48 of 648 answered 429; with it: 4 of about 600).
@Suite struct SharedDeploymentTests {
    @Test func twoProcessesOnOneDeploymentStayWithinItsQuota() async throws {
        let directory = try TemporaryDirectory()
        let words = ["shipment", "customs", "invoice", "pallet", "warehouse", "freight", "carrier", "harbour"]
        for process in ["a", "b"] {
            for index in 0..<300 {
                let text = (0..<90).map { words[($0 * 7 + index * 3 + process.count) % words.count] }
                try directory.write(
                    "\(process)/d\(index).txt", "Note \(process)-\(index): " + text.joined(separator: " ") + ".\n")
            }
        }
        let pipeline = try directory.write(
            "p.yaml",
            """
            name: shared
            model: gpt-4o-mini
            max_tokens: 30
            chunking: {max_tokens: 150, overlap: 0}
            messages:
              - role: user
                content: "{{chunk.text}}"
            """)
        let simulator = try SimulatorProcess(arguments: [
            "--tpm", "60000", "--rpm", "600", "--speedup", "5", "--latency", "0.5", "--reply-tokens", "20",
        ])
        let statuses = try await TimingSensitive.exclusively {
            let runs = try ["a", "b"].map { name in
                try SluiceProcess.start(
                    [
                        "run", directory.file(name), "--pipeline", pipeline, "--db", directory.file("\(name).db"),
                        "--endpoint", simulator.endpoint, "--deployment", "shared", "--tpm", "60000", "--rpm", "600",
                        "--time-scale", "5", "--api-key-env", "SIM_KEY",
                    ], environment: ["SIM_KEY": "sim-key"])
            }
            for run in runs { await run.exited() }
            return runs.map(\.terminationStatus)
        }
        #expect(statuses == [0, 0])
        let statistics = try await simulator.statistics()
        let requests = statistics["requests"] as? Int ?? 0
        let refused = statistics["rateLimited"] as? Int ?? 0
        #expect(statistics["completed"] as? Int == 600)
        // Each alone would have sent twice the quota; together, almost no 429s.
        #expect(Double(refused) <= Double(requests) * 0.03, "\(refused) of \(requests) answered 429")
    }
}
