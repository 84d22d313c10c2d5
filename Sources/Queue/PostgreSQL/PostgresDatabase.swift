import Foundation
import Logging
import NIOCore
import NIOSSL
import PostgresNIO
import SluiceCore

/// Where a PostgreSQL queue lives: `postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?sslmode=...]`
/// (or `postgresql://`). The password may also come from `PGPASSWORD`; it is kept out of
/// ``description`` and every message.
public struct PostgresLocation: Sendable, Hashable, CustomStringConvertible {
    /// How the connection is encrypted, as libpq's `sslmode` says it.
    public enum TLSMode: String, Sendable, Hashable {
        /// No TLS.
        case disable
        /// TLS if the server offers it (libpq's default).
        case prefer
        /// TLS, the server's certificate not checked.
        case require
        /// TLS, the certificate checked against the system's roots.
        case verifyCA = "verify-ca"
        /// TLS, the certificate and the host name checked.
        case verifyFull = "verify-full"
    }

    /// The server's host name or address.
    public let host: String
    /// Its port (5432 unless the URL says otherwise).
    public let port: Int
    /// The user to connect as.
    public let user: String
    /// The password (from the URL or PGPASSWORD); never part of a message.
    package let password: String?
    /// The database holding the queue.
    public let database: String
    /// How the connection is encrypted (`sslmode`, default prefer).
    public let tls: TLSMode

    /// The URL without its password.
    public var description: String { "postgres://\(user)@\(host):\(port)/\(database)" }

    /// Whether a `--db` value names a PostgreSQL database rather than a SQLite file.
    public static func isURL(_ text: String) -> Bool {
        text.hasPrefix("postgres://") || text.hasPrefix("postgresql://")
    }

    /// Reads a URL; `environment` supplies `PGPASSWORD` when the URL has no password.
    ///
    /// - Throws: ``SluiceError`` naming what is wrong (never repeating the password).
    public init(url text: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        guard Self.isURL(text), let components = URLComponents(string: text), let host = components.host,
            !host.isEmpty
        else {
            throw SluiceError(
                .invalidConfiguration, "--db: not a PostgreSQL URL (postgres://USER[:PASSWORD]@HOST[:PORT]/DB)")
        }
        guard let user = components.user, !user.isEmpty else {
            throw SluiceError(.invalidConfiguration, "--db: the PostgreSQL URL names no user")
        }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty else {
            throw SluiceError(.invalidConfiguration, "--db: the PostgreSQL URL names no database (…/DB)")
        }
        let mode = components.queryItems?.first { $0.name == "sslmode" }?.value ?? "prefer"
        guard let tls = TLSMode(rawValue: mode) else {
            throw SluiceError(
                .invalidConfiguration,
                "--db: sslmode=\(mode) is not one of disable, prefer, require, verify-ca, verify-full")
        }
        self.host = host
        port = components.port ?? 5432
        self.user = user.removingPercentEncoding ?? user
        password = components.password.map { $0.removingPercentEncoding ?? $0 } ?? environment["PGPASSWORD"]
        self.database = database.removingPercentEncoding ?? database
        self.tls = tls
    }

    /// The client configuration for PostgresNIO.
    var configuration: PostgresClient.Configuration {
        var tlsConfiguration = TLSConfiguration.makeClientConfiguration()
        let tls: PostgresClient.Configuration.TLS
        switch self.tls {
        case .disable: tls = .disable
        case .prefer:
            tlsConfiguration.certificateVerification = .none
            tls = .prefer(tlsConfiguration)
        case .require:
            tlsConfiguration.certificateVerification = .none
            tls = .require(tlsConfiguration)
        case .verifyCA:
            tlsConfiguration.certificateVerification = .noHostnameVerification
            tls = .require(tlsConfiguration)
        case .verifyFull: tls = .require(tlsConfiguration)
        }
        var configuration = PostgresClient.Configuration(
            host: host, port: port, username: user, password: password, database: database, tls: tls)
        configuration.options.connectTimeout = .seconds(10)
        return configuration
    }
}

/// A value bound to a PostgreSQL statement.
enum PostgresValue: Sendable {
    case integer(Int64)
    case real(Double)
    case text(String)
    case bytes(Data)
    case null
    /// Arrays, for one statement over many rows (`unnest`, `= ANY`); arrays hold no NULL, so a
    /// nullable column travels as values and a `Bool` array saying which are there.
    case integers([Int64])
    case int32s([Int32])
    case reals([Double])
    case texts([String])
    case booleans([Bool])
    case byteArrays([ByteBuffer])
}

extension PostgresConnection {
    /// Runs SQL with `$1…` placeholders and returns its rows, every cell read up front.
    @discardableResult
    func rows(_ sql: String, _ arguments: [PostgresValue] = [], logger: Logger) async throws
        -> [PostgresRandomAccessRow]
    {
        var bindings = PostgresBindings(capacity: arguments.count)
        for argument in arguments {
            switch argument {
            case .integer(let value): bindings.append(value)
            case .real(let value): bindings.append(value)
            case .text(let value): bindings.append(value)
            case .bytes(let value): try bindings.append(value)
            case .null: bindings.appendNull()
            case .integers(let values): bindings.append(values)
            case .int32s(let values): bindings.append(values)
            case .reals(let values): bindings.append(values)
            case .texts(let values): bindings.append(values)
            case .booleans(let values): bindings.append(values)
            case .byteArrays(let values): bindings.append(values)
            }
        }
        let sequence = try await query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger)
        var rows: [PostgresRandomAccessRow] = []
        for try await row in sequence { rows.append(row.makeRandomAccess()) }
        return rows
    }
}

extension PostgresRandomAccessRow {
    func int(_ column: Int) throws -> Int64 { try self[column].decode(Int64.self) }
    func optionalInt(_ column: Int) throws -> Int64? { try self[column].decode(Int64?.self) }
    func double(_ column: Int) throws -> Double { try self[column].decode(Double.self) }
    func optionalDouble(_ column: Int) throws -> Double? { try self[column].decode(Double?.self) }
    func text(_ column: Int) throws -> String { try self[column].decode(String.self) }
    func optionalText(_ column: Int) throws -> String? { try self[column].decode(String?.self) }
    func bytes(_ column: Int) throws -> Data { try self[column].decode(Data.self) }
    func optionalBytes(_ column: Int) throws -> Data? { try self[column].decode(Data?.self) }
}

/// A PostgreSQL error as a ``SluiceError``: the server's message, SQLSTATE and detail, never the password.
func postgresError(_ error: any Error, location: PostgresLocation, doing what: String) -> SluiceError {
    if let error = error as? SluiceError { return error }
    if let psql = error as? PSQLError {
        let server = psql.serverInfo
        var text = "\(location): \(what): "
        if let message = server?[.message] {
            text += message
            if let state = server?[.sqlState] { text += " (SQLSTATE \(state))" }
            if let detail = server?[.detail] { text += "; \(detail)" }
        } else {
            text += "\(psql.code)"
            if let underlying = psql.underlying { text += ": \(underlying)" }
        }
        return SluiceError(.database, text, cause: error)
    }
    return SluiceError(.database, "\(location): \(what): \(error)", cause: error)
}
