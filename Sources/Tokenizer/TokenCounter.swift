import Dispatch
import Synchronization

/// The tokens of one input of a batch.
public struct CountedText: Sendable {
    /// The input's name (a file path, or `-` for standard input).
    public let name: String
    /// The UTF-8 size of the text in bytes.
    public let byteCount: Int
    /// The number of tokens.
    public let tokens: Int
    /// The token ids, when asked for.
    public let ids: [Int]?
}

/// Counts the tokens of many texts on several threads.
///
/// Inputs are processed in windows of 64 per thread, so memory stays bounded however many
/// inputs there are; results are delivered in input order.
public struct TokenCounter: Sendable {
    /// The encoding to count with.
    public let encoding: BytePairEncoding
    /// Number of threads; 1 counts on the calling thread.
    public let threads: Int

    /// Counts with `encoding` on `threads` threads.
    public init(encoding: BytePairEncoding, threads: Int) {
        self.encoding = encoding
        self.threads = max(1, threads)
    }

    /// Counts inputs in parallel and calls `body` with each result in input order.
    ///
    /// - Parameters:
    ///   - inputs: The inputs' names.
    ///   - includeIDs: Whether to keep the ids (otherwise only counted).
    ///   - load: Produces an input's text; runs on the counting threads.
    ///   - body: Receives each input's result, in order, on the calling thread.
    public func count<Failure: Error>(
        _ inputs: [String],
        includeIDs: Bool,
        load: @escaping @Sendable (String) throws(Failure) -> String,
        body: (String, Result<CountedText, Failure>) -> Void
    ) {
        let window = threads == 1 ? 64 : threads * 64
        var start = 0
        while start < inputs.count {
            let batch = Array(inputs[start..<min(start + window, inputs.count)])
            let state = BatchState<Failure>(count: batch.count)
            let work: @Sendable (Int) -> Void = { _ in
                while true {
                    let index = state.next.wrappingAdd(1, ordering: .relaxed).oldValue
                    guard index < batch.count else { return }
                    let result = Result<CountedText, Failure> { () throws(Failure) -> CountedText in
                        let text = try load(batch[index])
                        return self.countText(text, name: batch[index], includeIDs: includeIDs)
                    }
                    state.results.withLock { $0[index] = result }
                }
            }
            if threads == 1 || batch.count == 1 {
                work(0)
            } else {
                DispatchQueue.concurrentPerform(iterations: min(threads, batch.count), execute: work)
            }
            let finished = state.results.withLock { $0 }
            for (name, result) in zip(batch, finished) {
                if let result { body(name, result) }
            }
            start += batch.count
        }
    }

    /// Counts one text.
    public func countText(_ text: String, name: String, includeIDs: Bool) -> CountedText {
        if includeIDs {
            let ids = encoding.encode(text)
            return CountedText(name: name, byteCount: text.utf8.count, tokens: ids.count, ids: ids)
        }
        return CountedText(name: name, byteCount: text.utf8.count, tokens: encoding.count(text), ids: nil)
    }
}

/// The shared state of one window of a parallel count: the next input to take and the results.
private final class BatchState<Failure: Error>: Sendable {
    let next = Atomic<Int>(0)
    let results: Mutex<[Result<CountedText, Failure>?]>

    init(count: Int) {
        results = Mutex(Array(repeating: nil, count: count))
    }
}
