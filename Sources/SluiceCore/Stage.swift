/// The stages a document goes through, in order.
public enum Stage: String, Sendable, Codable, CaseIterable, Comparable {
    /// Read a file, decode its text, record its hash.
    case ingest
    /// Cut the text into token-bounded chunks.
    case chunk
    /// Render the pipeline's messages for a chunk and compute the request's quota charge.
    case prompt
    /// Send the request to a deployment.
    case call
    /// Once every part of a document has its result: render the reduce prompt over them (map-reduce).
    case reduce
    /// Append the result line to the run's JSONL output.
    case collect

    /// Pipeline order.
    public static func < (lhs: Stage, rhs: Stage) -> Bool {
        allCases.firstIndex(of: lhs) ?? 0 < allCases.firstIndex(of: rhs) ?? 0
    }
}

/// Where a job is in its life.
public enum JobState: String, Sendable, Codable, CaseIterable {
    /// Waiting to be claimed (possibly not before a retry time).
    case ready
    /// Claimed by a worker whose lease has not expired.
    case leased
    /// Finished; its successors were enqueued in the same transaction.
    case done
    /// Failed for good; the reason is kept.
    case failed
    /// Waiting for the parts it reduces (becomes ready when the last one arrives).
    case waiting
    /// A call in a batch of the batch lane: neither claimed nor reclaimed until the batch ends and
    /// its line is committed (or the line goes back to the queue).
    case batched
}
