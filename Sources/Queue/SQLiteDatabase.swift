import NIOPosix
import SluiceCore

/// A SQLite database file used from async code: one connection, on a thread of its own, so blocking
/// SQLite calls (disk reads, `fsync`, waiting out another process's lock up to the busy timeout)
/// never sit on Swift's cooperative thread pool — nor on Dispatch's workers, which carry that pool
/// on Linux.
final class SQLiteDatabase: @unchecked Sendable {
    // Unchecked: `connection` is only touched on the database's one thread (or in `performNow`
    // before any other use), which serializes every access.
    private let connection: SQLiteConnection
    private let thread: NIOThreadPool

    init(path: String, readOnly: Bool = false) throws {
        connection = try SQLiteConnection(path: path, readOnly: readOnly)
        if readOnly {
            try connection.execute("PRAGMA cache_size=-16384;")
        } else {
            try connection.execute(
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA cache_size=-16384;")
        }
        thread = NIOThreadPool(numberOfThreads: 1)
        thread.start()
    }

    deinit { thread.shutdownGracefully { _ in } }

    /// Runs `body` on the database's thread. It runs even when the calling task is cancelled meanwhile:
    /// a commit that was asked for is made (a paid call is not lost to a stop).
    func perform<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            thread.submit { state in
                guard case .active = state else {
                    return continuation.resume(throwing: SluiceError(.database, "the database was closed"))
                }
                continuation.resume(
                    with: Result {
                        defer { self.connection.resetStatements() }
                        return try body(self.connection)
                    })
            }
        }
    }

    /// Runs `body` in a write transaction on the database's thread.
    func write<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        try await perform { connection in try connection.transaction { try body(connection) } }
    }

    /// Runs `body` at once on the calling thread: only while the database is being opened, before
    /// anything else can use it.
    func performNow<T>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        defer { connection.resetStatements() }
        return try body(connection)
    }
}
