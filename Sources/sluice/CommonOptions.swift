import ArgumentParser
import Foundation
import Queue
import SluiceCore

/// Where the queue database is.
struct DatabaseOptions: ParsableArguments {
    @Option(
        name: .customLong("db"),
        help:
            "The queue database: a SQLite file, or postgres://USER[:PASSWORD]@HOST[:PORT]/DB (password also from PGPASSWORD)."
    )
    var database = "sluice.db"

    /// Whether `--db` names a PostgreSQL database.
    var isPostgres: Bool { PostgresLocation.isURL(database) }

    /// Opens the queue on either backend, exiting with a clear message when it cannot.
    func openQueue() async throws -> any JobQueue {
        guard isPostgres else { return try open() }
        do {
            return try await PostgresJobQueue(location: try PostgresLocation(url: database))
        } catch {
            Terminal.error("\(error)")
            throw ExitStatus.storage
        }
    }

    /// Opens the queue, exiting with a clear message when it cannot.
    func open() throws -> SQLiteJobQueue {
        do {
            return try SQLiteJobQueue(path: database)
        } catch {
            Terminal.error("\(error)")
            throw ExitStatus.storage
        }
    }

    /// Opens an existing queue for reading only (a database this user may not write is read all the
    /// same); a missing one is opened as by ``open()``.
    func openForReading() throws -> SQLiteJobQueue {
        guard FileManager.default.fileExists(atPath: database) else { return try open() }
        do {
            return try SQLiteJobQueue(readingOnly: database)
        } catch {
            Terminal.error("\(error)")
            throw ExitStatus.storage
        }
    }

    /// The default output file: next to the database, with the extension .jsonl.
    var defaultOutput: String { (database as NSString).deletingPathExtension + ".jsonl" }
}

/// Options that choose which files of a directory are documents.
struct SelectionOptions: ParsableArguments {
    @Option(
        name: .customLong("max-file-size"),
        help: "Skip files larger than this, e.g. 64MB or 1GiB (default: the pipeline's files.max_size, or 256MiB).")
    var maxFileSize: String?

    @Flag(help: "Follow symbolic links that lead out of the folder (by default they are skipped with the reason).")
    var followExternalLinks = false

    @Option(
        name: .customLong("var"), parsing: .singleValue,
        help: ArgumentHelp(
            "Set a template variable of the pipeline, e.g. --var language=German (repeatable).", valueName: "name=value"
        ))
    var variables: [String] = []

    /// The pipeline with the command line's overrides.
    func apply(to pipeline: PipelineDefinition) throws -> PipelineDefinition {
        var pipeline = pipeline
        for item in variables {
            guard let equals = item.firstIndex(of: "="), equals != item.startIndex else {
                throw ValidationError("--var: '\(item)' is not name=value")
            }
            pipeline.variables[String(item[..<equals])] = String(item[item.index(after: equals)...])
        }
        if let maxFileSize {
            guard let bytes = ByteSize.parse(maxFileSize) else {
                throw ValidationError("--max-file-size: '\(maxFileSize)' is not a size (e.g. 268435456, 64MB, 1GiB)")
            }
            pipeline.selection.maxFileSize = bytes
        }
        if followExternalLinks { pipeline.selection.followsExternalLinks = true }
        return pipeline
    }
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
