import ArgumentParser
import Foundation
import Queue
import SluiceCore

/// Where the queue database is.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .customLong("db"), help: "The queue database (SQLite).")
    var database = "sluice.db"

    /// Opens the queue, exiting with a clear message when it cannot.
    func open() throws -> SQLiteJobQueue {
        do {
            return try SQLiteJobQueue(path: database)
        } catch {
            Terminal.error("\(error)")
            throw ExitStatus.storage
        }
    }

    /// The default output file: next to the database, with the extension .jsonl.
    var defaultOutput: String { (database as NSString).deletingPathExtension + ".jsonl" }
}

/// Runs an async body, turning Sluice errors into one-line messages and exit statuses.
func reportingErrors<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as SluiceError {
        Terminal.error(error.message)
        switch error.code {
        case .database, .io: throw ExitStatus.storage
        default: throw ExitStatus.configuration
        }
    }
}
