import CSQLite
import Foundation
import SluiceCore

/// One SQLite connection with a cache of prepared statements.
///
/// Not thread-safe: ``SQLiteDatabase`` only uses it on its own serial queue.
final class SQLiteConnection {
    private let handle: OpaquePointer
    private var statements: [String: SQLiteStatement] = [:]
    let path: String

    /// - Parameter readOnly: Open for reading only; when even that fails (a WAL database in a folder
    ///   this user cannot write, so no -shm file can be made), open it as immutable.
    init(path: String, readOnly: Bool = false) throws {
        var handle: OpaquePointer?
        var result: Int32
        if readOnly {
            result = sqlite3_open_v2(path, &handle, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nil)
            if result == SQLITE_OK, let opened = handle,
                sqlite3_exec(opened, "SELECT count(*) FROM sqlite_master", nil, nil, nil) != SQLITE_OK
            {
                sqlite3_close(opened)
                handle = nil
                var components = URLComponents()
                components.scheme = "file"
                components.path = URL(fileURLWithPath: path).standardizedFileURL.path
                components.queryItems = [URLQueryItem(name: "immutable", value: "1")]
                let uri = components.string ?? "file:" + path
                result = sqlite3_open_v2(
                    uri, &handle, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI, nil)
            }
        } else {
            let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
            result = sqlite3_open_v2(path, &handle, flags, nil)
        }
        guard result == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close(handle)
            let error = SQLiteError(path: path, resultCode: result, message: message, sql: nil, arguments: [])
            throw SluiceError(.database, "\(path): cannot open the database: \(message)", cause: error)
        }
        self.handle = handle
        self.path = path
        sqlite3_busy_timeout(handle, 10_000)
        sqlite3_extended_result_codes(handle, 1)
    }

    deinit {
        for statement in statements.values { statement.finalize() }
        sqlite3_close_v2(handle)
    }

    /// Runs SQL without results (several statements allowed).
    func execute(_ sql: String) throws {
        var error: UnsafeMutablePointer<CChar>?
        let result = sqlite3_exec(handle, sql, nil, nil, &error)
        if result != SQLITE_OK {
            let message = error.map { String(cString: $0) } ?? lastError
            sqlite3_free(error)
            throw SQLiteError(
                path: path, resultCode: sqlite3_extended_errcode(handle), message: message, sql: sql, arguments: []
            ).wrapped
        }
    }

    /// A prepared statement for `sql`, reset and cleared of bindings, cached by its text.
    func statement(_ sql: String) throws -> SQLiteStatement {
        if let cached = statements[sql] {
            cached.reset()
            return cached
        }
        var pointer: OpaquePointer?
        let result = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &pointer, nil)
        guard result == SQLITE_OK, let pointer else {
            throw error(sql: sql, arguments: [])
        }
        let statement = SQLiteStatement(pointer: pointer, connection: self)
        statements[sql] = statement
        return statement
    }

    /// Resets every cached statement. A statement stepped to a row and left there keeps its read
    /// transaction, and with it a snapshot of the database: once another process commits, the next
    /// BEGIN IMMEDIATE on this connection fails at once ("database is locked"). Called after every
    /// use of the connection.
    func resetStatements() {
        for statement in statements.values { statement.rewind() }
    }

    /// Runs one statement with arguments, ignoring rows.
    func run(_ sql: String, _ arguments: [SQLiteValue] = []) throws {
        let statement = try statement(sql)
        try statement.bind(arguments)
        while try statement.step() {}
    }

    /// Rows changed by the last statement.
    var changes: Int { Int(sqlite3_changes(handle)) }

    /// The rowid of the last row inserted.
    var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    var lastError: String { String(cString: sqlite3_errmsg(handle)) }

    /// The connection's last error, for a statement and its arguments.
    func error(sql: String?, arguments: [SQLiteValue]) -> SluiceError {
        SQLiteError(
            path: path, resultCode: sqlite3_extended_errcode(handle), message: lastError, sql: sql,
            arguments: SQLiteError.describe(arguments)
        ).wrapped
    }

    /// Runs `body` in a write transaction (BEGIN IMMEDIATE), rolling back if it throws.
    func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let value = try body()
            try execute("COMMIT")
            return value
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }
}

/// A value bound to or read from a statement.
enum SQLiteValue: Sendable, Hashable {
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])
    case null
}

/// A prepared statement.
final class SQLiteStatement {
    private let pointer: OpaquePointer
    private unowned let connection: SQLiteConnection
    /// The arguments last bound, for an error's report.
    private var bound: [SQLiteValue] = []

    init(pointer: OpaquePointer, connection: SQLiteConnection) {
        self.pointer = pointer
        self.connection = connection
    }

    func finalize() { sqlite3_finalize(pointer) }

    func reset() {
        sqlite3_reset(pointer)
        sqlite3_clear_bindings(pointer)
        bound = []
    }

    /// Ends the statement's run (and the read transaction it holds); bindings stay.
    func rewind() { sqlite3_reset(pointer) }

    func bind(_ arguments: [SQLiteValue]) throws {
        bound = arguments
        for (offset, value) in arguments.enumerated() {
            let index = Int32(offset + 1)
            let result: Int32
            switch value {
            case .integer(let integer): result = sqlite3_bind_int64(pointer, index, integer)
            case .real(let real): result = sqlite3_bind_double(pointer, index, real)
            case .text(let text): result = sqlite3_bind_text(pointer, index, text, -1, sluice_sqlite_transient())
            case .blob(let bytes):
                result = bytes.withUnsafeBytes { raw in
                    sqlite3_bind_blob(pointer, index, raw.baseAddress, Int32(raw.count), sluice_sqlite_transient())
                }
            case .null: result = sqlite3_bind_null(pointer, index)
            }
            guard result == SQLITE_OK else { throw connection.error(sql: sql, arguments: arguments) }
        }
    }

    /// Advances; true while there is a row.
    func step() throws -> Bool {
        let result = sqlite3_step(pointer)
        switch result {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            throw connection.error(sql: sql, arguments: bound)
        }
    }

    var sql: String { sqlite3_sql(pointer).map { String(cString: $0) } ?? "" }

    func int(_ column: Int32) -> Int64 { sqlite3_column_int64(pointer, column) }
    func double(_ column: Int32) -> Double { sqlite3_column_double(pointer, column) }
    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(pointer, column) == SQLITE_NULL }

    func text(_ column: Int32) -> String {
        guard let bytes = sqlite3_column_text(pointer, column) else { return "" }
        let count = Int(sqlite3_column_bytes(pointer, column))
        return String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
    }

    func blob(_ column: Int32) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(pointer, column))
        guard count > 0, let bytes = sqlite3_column_blob(pointer, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: bytes, count: count))
    }
}
