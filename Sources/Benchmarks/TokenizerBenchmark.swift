import Call
import Foundation
import Tokenizer

/// `sluice-bench tokenizer`: single-thread and multi-thread throughput of the tokenizer on real
/// text, measured side by side with OpenAI's tiktoken on the same documents when it is installed.
package struct TokenizerBenchmark: Sendable {
    /// Figures for one encoding.
    package struct EncodingFigures: Sendable, Codable {
        package var encoding: String
        package var tokens: Int
        /// A checksum of every id in order, to compare with the reference.
        package var checksum: UInt64
        package var encodeSeconds: Double
        package var countSeconds: Double
        package var parallelCountSeconds: Double
        package var reference: ReferenceFigures?
    }

    /// tiktoken's figures for one encoding on the same documents.
    package struct ReferenceFigures: Sendable, Codable {
        package var tokens: Int
        package var checksum: UInt64
        package var encodeSeconds: Double
        package var parallelEncodeSeconds: Double
    }

    /// The whole report.
    package struct Report: Sendable, Codable {
        package var documents: Int
        package var bytes: Int
        package var sources: [String]
        package var rounds: Int
        package var threads: Int
        /// First use of each encoding in this process: building its tables from the embedded data.
        package var loadMilliseconds: [String: Double]
        /// A whole fresh `sluice tokens` process per encoding.
        package var processMilliseconds: [String: Double] = [:]
        package var encodings: [EncodingFigures]
        /// Why there are no reference figures, when there are none.
        package var referenceNote: String?
    }

    package var rounds: Int
    package var threads: Int
    package var reference: Bool
    package var encodings: [EncodingName]

    package init(
        rounds: Int = 3, threads: Int, reference: Bool = true, encodings: [EncodingName] = [.o200kBase, .cl100kBase]
    ) {
        self.rounds = max(1, rounds)
        self.threads = max(1, threads)
        self.reference = reference
        self.encodings = encodings
    }

    /// Measures the load time of each encoding; call first in a fresh process.
    package static func measureLoad(_ encodings: [EncodingName]) -> [String: Double] {
        var times: [String: Double] = [:]
        for name in encodings {
            let clock = ContinuousClock()
            let elapsed = clock.measure { _ = BytePairEncoding.encoding(name).count("warm") }
            times[name.rawValue] = elapsed.seconds * 1_000
        }
        return times
    }

    /// Wall time of a whole fresh `sluice tokens` process (start, load, count one word, exit): the
    /// best of five runs of `executable`.
    package static func measureFreshProcess(executable: String, encodings: [EncodingName]) -> [String: Double] {
        var times: [String: Double] = [:]
        for name in encodings {
            var best = Double.infinity
            for _ in 0..<5 {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: executable)
                process.arguments = ["tokens", "--encoding", name.rawValue]
                let input = Pipe()
                process.standardInput = input
                process.standardOutput = FileHandle.nullDevice
                let clock = ContinuousClock()
                let start = clock.now
                guard (try? process.run()) != nil else { return [:] }
                input.fileHandleForWriting.write(Data("warm".utf8))
                try? input.fileHandleForWriting.close()
                process.waitUntilExit()
                best = min(best, (clock.now - start).seconds)
            }
            times[name.rawValue] = best * 1_000
        }
        return times
    }

    /// Runs the benchmark on a corpus; `progress` receives human-readable status lines.
    package func run(
        corpus: TextCorpus, loadMilliseconds: [String: Double], progress: (String) -> Void
    ) -> Report {
        let texts = corpus.documents.map(\.text)
        var figures: [EncodingFigures] = []
        for name in encodings {
            let encoding = BytePairEncoding.encoding(name)
            progress("measuring \(name.rawValue) (\(rounds) rounds)")
            var tokens = 0
            var checksum = Checksum()
            for text in texts {
                let ids = encoding.encode(text)
                tokens += ids.count
                checksum.add(ids)
            }
            let encodeSeconds = best(of: rounds) {
                var sink = 0
                for text in texts { sink &+= encoding.encode(text).count }
                precondition(sink == tokens)
            }
            let countSeconds = best(of: rounds) {
                var sink = 0
                for text in texts { sink &+= encoding.count(text) }
                precondition(sink == tokens)
            }
            let counter = TokenCounter(encoding: encoding, threads: threads)
            let indices = texts.indices.map(String.init)
            let parallelSeconds = best(of: rounds) {
                var sink = 0
                counter.count(indices, includeIDs: false, load: { texts[Int($0) ?? 0] }) { _, result in
                    if case .success(let counted) = result { sink += counted.tokens }
                }
                precondition(sink == tokens)
            }
            figures.append(
                EncodingFigures(
                    encoding: name.rawValue, tokens: tokens, checksum: checksum.value, encodeSeconds: encodeSeconds,
                    countSeconds: countSeconds, parallelCountSeconds: parallelSeconds, reference: nil))
        }
        var note: String?
        if reference {
            progress("measuring tiktoken on the same documents")
            switch TiktokenReference.run(texts: texts, encodings: encodings, rounds: rounds, threads: threads) {
            case .success(let results):
                for index in figures.indices { figures[index].reference = results[figures[index].encoding] }
            case .failure(let error):
                note = error.message
            }
        } else {
            note = "reference run skipped"
        }
        return Report(
            documents: texts.count, bytes: corpus.byteCount, sources: corpus.sources, rounds: rounds,
            threads: threads, loadMilliseconds: loadMilliseconds, encodings: figures, referenceNote: note)
    }

    private func best(of rounds: Int, _ body: () -> Void) -> Double {
        let clock = ContinuousClock()
        var best = Double.infinity
        for _ in 0..<rounds { best = min(best, clock.measure(body).seconds) }
        return best
    }
}

/// The checksum both sides compute over all ids in order: sum of (position + 1) × id, mod 2^61 - 1.
struct Checksum {
    private(set) var value: UInt64 = 0
    private var position: UInt64 = 0
    static let modulus: UInt64 = (1 << 61) - 1

    mutating func add(_ ids: [Int]) {
        for id in ids {
            position += 1
            value = (value + (position % Self.modulus) * UInt64(id) % Self.modulus) % Self.modulus
        }
    }
}
