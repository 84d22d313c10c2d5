/// A file found under an enqueued root.
public struct DocumentRef: Sendable, Hashable, Codable {
    /// Path relative to the enqueued root, with `/` separators.
    public var path: String
    /// SHA-256 of the file's bytes, lowercase hex.
    public var sha256: String
    /// Size in bytes.
    public var size: Int64
    /// The later of the file's modification and status change time, seconds since 1970 (what
    /// decides whether the file is hashed again).
    public var mtime: Double

    /// Creates it from its fields.
    public init(path: String, sha256: String, size: Int64, mtime: Double) {
        self.path = path
        self.sha256 = sha256
        self.size = size
        self.mtime = mtime
    }
}

/// What enqueueing a directory found, compared with what the queue already had.
public struct EnqueueSummary: Sendable, Hashable, Codable {
    /// Documents seen for the first time.
    public var new = 0
    /// Documents whose content changed.
    public var changed = 0
    /// Documents unchanged (their results are kept).
    public var unchanged = 0
    /// Files left out.
    public var skipped = 0
    /// Documents gone from the folder.
    public var deleted = 0
    /// Files that were skipped, with the reason.
    public var skippedFiles: [SkippedFile] = []

    /// Nothing enqueued.
    public init() {}
}

/// A file that is not processed, and why.
public struct SkippedFile: Sendable, Hashable, Codable {
    /// Path relative to the root.
    public var path: String
    /// Why it was left out.
    public var reason: String

    /// Creates it from its fields.
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }
}
