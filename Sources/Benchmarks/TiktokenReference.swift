import Foundation
import Tokenizer

/// Runs OpenAI's tiktoken (Python) on the same documents, for a side-by-side comparison.
///
/// The vocabularies are written from Sluice's embedded copies into a temporary tiktoken cache under
/// tiktoken's cache names, so tiktoken never downloads anything; it verifies their SHA-256 itself.
enum TiktokenReference {
    struct Failure: Error {
        let message: String
    }

    static let script = #"""
        import json, os, sys, time
        try:
            import tiktoken
        except ImportError:
            print(json.dumps({"error": "tiktoken is not installed (pip install tiktoken)"}))
            sys.exit(0)
        from concurrent.futures import ThreadPoolExecutor
        directory, rounds, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
        names = sys.argv[4:]
        files = sorted(os.listdir(directory))
        texts = []
        for name in files:
            if name.endswith(".txt"):
                with open(os.path.join(directory, name), encoding="utf-8", newline="") as handle:
                    texts.append(handle.read())
        modulus = (1 << 61) - 1
        out = {"version": tiktoken.__version__}
        for name in names:
            enc = tiktoken.get_encoding(name)
            tokens, checksum, position = 0, 0, 0
            for text in texts:
                ids = enc.encode_ordinary(text)
                tokens += len(ids)
                for token in ids:
                    position += 1
                    checksum = (checksum + (position % modulus) * token) % modulus
            best = float("inf")
            for _ in range(rounds):
                start = time.perf_counter()
                for text in texts:
                    enc.encode_ordinary(text)
                best = min(best, time.perf_counter() - start)
            best_parallel = float("inf")
            for _ in range(rounds):
                start = time.perf_counter()
                enc.encode_ordinary_batch(texts, num_threads=threads)
                best_parallel = min(best_parallel, time.perf_counter() - start)
            out[name] = {"tokens": tokens, "checksum": checksum, "encodeSeconds": best,
                         "parallelEncodeSeconds": best_parallel}
        print(json.dumps(out))
        """#

    static let cacheNames: [EncodingName: String] = [
        // sha1 of https://openaipublic.blob.core.windows.net/encodings/NAME.tiktoken
        .o200kBase: "fb374d419588a4632f3f557e76b4b70aebbca790",
        .cl100kBase: "9b5ad71b2ce5302211f9c61530b329a4922fc6a4",
    ]

    static func run(
        texts: [String], encodings: [EncodingName], rounds: Int, threads: Int
    ) -> Result<[String: TokenizerBenchmark.ReferenceFigures], Failure> {
        let fileManager = FileManager.default
        let directory = fileManager.temporaryDirectory.appendingPathComponent("sluice-bench-\(getpid())")
        let documents = directory.appendingPathComponent("documents")
        let cache = directory.appendingPathComponent("tiktoken-cache")
        defer { try? fileManager.removeItem(at: directory) }
        do {
            try fileManager.createDirectory(at: documents, withIntermediateDirectories: true)
            try fileManager.createDirectory(at: cache, withIntermediateDirectories: true)
            for (index, text) in texts.enumerated() {
                let name = String(format: "%07d.txt", index)
                try Data(text.utf8).write(to: documents.appendingPathComponent(name))
            }
            for name in encodings {
                guard let cacheName = cacheNames[name] else { continue }
                let file = BytePairEncoding.encoding(name).tiktokenFile()
                try Data(file).write(to: cache.appendingPathComponent(cacheName))
            }
            let scriptURL = directory.appendingPathComponent("reference.py")
            try Data(script.utf8).write(to: scriptURL)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments =
                ["python3", scriptURL.path, documents.path, String(rounds), String(threads)]
                + encodings.filter { cacheNames[$0] != nil }.map(\.rawValue)
            var environment = ProcessInfo.processInfo.environment
            environment["TIKTOKEN_CACHE_DIR"] = cache.path
            process.environment = environment
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            let output = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            guard process.terminationStatus == 0,
                let object = try JSONSerialization.jsonObject(with: output) as? [String: Any]
            else {
                return .failure(
                    Failure(message: "the tiktoken reference run failed (python3 exit \(process.terminationStatus))"))
            }
            if let error = object["error"] as? String { return .failure(Failure(message: error)) }
            var results: [String: TokenizerBenchmark.ReferenceFigures] = [:]
            for name in encodings {
                guard let figures = object[name.rawValue] as? [String: Any], let tokens = figures["tokens"] as? Int,
                    let checksum = (figures["checksum"] as? NSNumber)?.uint64Value,
                    let seconds = figures["encodeSeconds"] as? Double,
                    let parallel = figures["parallelEncodeSeconds"] as? Double
                else { continue }
                results[name.rawValue] = .init(
                    tokens: tokens, checksum: checksum, encodeSeconds: seconds, parallelEncodeSeconds: parallel)
            }
            return .success(results)
        } catch {
            return .failure(Failure(message: "the tiktoken reference run failed: \(error)"))
        }
    }
}
