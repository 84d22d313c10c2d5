import CSQLite
import SluiceCore

/// A failed SQLite call, as SQLite reported it: the extended result code, its message, and the
/// statement with the arguments bound to it. It is the ``SluiceError/cause`` of the
/// ``SluiceError`` the queue throws.
public struct SQLiteError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The database file.
    public let path: String
    /// SQLite's extended result code (e.g. 5 SQLITE_BUSY, 2067 SQLITE_CONSTRAINT_UNIQUE).
    public let resultCode: Int32
    /// `sqlite3_errmsg` at the time.
    public let message: String
    /// The statement, when one failed.
    public let sql: String?
    /// The arguments bound to it, described (text cut at 100 characters, blobs by their size).
    public let arguments: [String]

    /// The result code's name (`sqlite3_errstr`).
    public var codeName: String { String(cString: sqlite3_errstr(resultCode)) }

    public var description: String {
        var text = "\(path): \(message) (SQLite \(resultCode): \(codeName)"
        if let sql { text += "; SQL: \(sql.prefix(200))" }
        if !arguments.isEmpty { text += "; arguments: [\(arguments.joined(separator: ", "))]" }
        return text + ")"
    }

    /// The queue's error for it: code ``SluiceError/Code/database``, with it as the cause.
    var wrapped: SluiceError { SluiceError(.database, description, cause: self) }

    static func describe(_ arguments: [SQLiteValue]) -> [String] {
        arguments.map { value in
            switch value {
            case .integer(let integer): String(integer)
            case .real(let real): String(real)
            case .text(let text): text.count > 100 ? "'\(text.prefix(100))…'" : "'\(text)'"
            case .blob(let bytes): "<\(bytes.count) bytes>"
            case .null: "NULL"
            }
        }
    }
}
