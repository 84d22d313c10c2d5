import Dispatch
import SluiceCore

/// A SQLite database file used from async code: one connection, on its own serial queue, so
/// blocking SQLite calls never sit on Swift's cooperative thread pool.
final class SQLiteDatabase: @unchecked Sendable {
    // Unchecked: `connection` is only touched on `queue`, which serializes every access.
    private let connection: SQLiteConnection
    private let queue: DispatchQueue

    init(path: String, readOnly: Bool = false) throws {
        connection = try SQLiteConnection(path: path, readOnly: readOnly)
        queue = DispatchQueue(label: "sluice.sqlite")
        if readOnly {
            try connection.execute("PRAGMA cache_size=-16384;")
        } else {
            try connection.execute(
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA cache_size=-16384;")
        }
    }

    /// Runs `body` on the database's queue.
    func perform<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(
                    with: Result {
                        defer { self.connection.resetStatements() }
                        return try body(self.connection)
                    })
            }
        }
    }

    /// Runs `body` in a write transaction on the database's queue.
    func write<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        try await perform { connection in try connection.transaction { try body(connection) } }
    }

    /// Runs `body` synchronously (for setup).
    func performNow<T>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        try queue.sync {
            defer { connection.resetStatements() }
            return try body(connection)
        }
    }
}
