import Foundation
import SluiceTesting
import Testing

/// `sluice simulate --charge-skew` against `sluice run`: the ratio the run learns follows the service's
/// rule, and it is shown in the run's summary and in `sluice status`.
@Suite struct ChargeRatioCommandTests {
    static func run(skew: String, directory: TemporaryDirectory, pipeline: String) async throws -> (Double, String) {
        let simulator = try SimulatorProcess(arguments: [
            "--tpm", "400000", "--rpm", "2400", "--speedup", "5", "--latency", "0.3", "--reply-tokens", "20",
            "--charge", "chars", "--charge-skew", skew,
        ])
        let database = directory.file("skew-\(skew).db")
        let run = try await SluiceProcess.run(
            [
                "run", directory.file("docs"), "--pipeline", pipeline, "--db", database, "--endpoint",
                simulator.endpoint, "--deployment", "d", "--tpm", "400000", "--time-scale", "5", "--api-key-env",
                "SIM_KEY", "--output", directory.file("skew-\(skew).jsonl"),
            ], environment: ["SIM_KEY": "sim-key"])
        #expect(run.status == 0, "\(run.stderr)")
        // The summary's deployment table has the column and a value.
        #expect(run.stderr.contains("charge ratio"), "\(run.stderr)")
        let status = try await SluiceProcess.run(["status", "--db", database, "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
        let deployments = try #require(object["deployments"] as? [[String: Any]])
        let ratio = try #require(
            deployments.first?["chargeRatio"] as? Double ?? deployments.first?["charge_ratio"] as? Double)
        #expect(ratio >= 0.2 && ratio <= 5)
        let formatted = String(format: "%.3f", ratio)
        return (ratio, run.stderr.contains(formatted) ? formatted : run.stderr)
    }

    @Test func theLearnedRatioFollowsTheServicesRuleAndIsShown() async throws {
        let directory = try TemporaryDirectory()
        let words = ["shipment", "customs", "invoice", "pallet", "warehouse", "freight", "carrier", "harbour"]
        for index in 0..<80 {
            let text = (0..<120).map { words[($0 * 5 + index) % words.count] }.joined(separator: " ")
            try directory.write("docs/d\(index).txt", "Note \(index): \(text).\n")
        }
        let pipeline = try directory.write(
            "p.yaml",
            """
            name: skew
            model: gpt-4o
            max_tokens: 40
            chunking: {max_tokens: 400, overlap: 0}
            messages:
              - role: user
                content: "{{chunk.text}}"
            """)
        let (low, lowShown) = try await Self.run(skew: "0.5", directory: directory, pipeline: pipeline)
        let (high, highShown) = try await Self.run(skew: "1.5", directory: directory, pipeline: pipeline)
        #expect(lowShown == String(format: "%.3f", low) && highShown == String(format: "%.3f", high))
        // The same prompts, charged three times as much by the second service.
        #expect(abs(high / low - 3) < 0.3, "ratios \(low) and \(high)")
    }

    @Test func aSkewThatIsNotAPositiveNumberIsRefused() async throws {
        for value in ["0", "-1", "nan", "1e9"] {
            let result = try await SluiceProcess.run(["simulate", "--charge-skew", value])
            #expect(result.status != 0 && result.stderr.contains("charge-skew"), "\(value): \(result.stderr)")
        }
        let rule = try await SluiceProcess.run(["simulate", "--charge", "words"])
        #expect(rule.status != 0 && rule.stderr.contains("charge"))
    }
}
