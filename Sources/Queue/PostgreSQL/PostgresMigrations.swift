import Logging
import PostgresNIO
import SluiceCore

/// The PostgreSQL queue's schema as numbered steps, recorded in `sluice_schema`. Each opening applies
/// the missing ones in one transaction under an advisory lock, so workers starting together on one
/// database migrate it once; a database of a later Sluice is refused by name.
enum PostgresMigrations {
    struct Migration {
        let version: Int
        let name: String
        let statements: [String]
    }

    /// The advisory lock key of migrations ("sluice" in ASCII).
    static let lockKey: Int64 = 0x736C_7569_6365
    /// The advisory lock key that serializes budget reservations ("budget").
    static let budgetLockKey: Int64 = 0x6275_6467_6574

    static let all: [Migration] = [
        Migration(
            version: 1, name: "runs, documents, jobs, parts, spend, unit results, outputs and run state",
            statements: [
                """
                CREATE TABLE runs(
                    id BIGSERIAL PRIMARY KEY, root TEXT NOT NULL, pipeline TEXT NOT NULL, pipeline_hash TEXT NOT NULL,
                    definition BYTEA NOT NULL, created DOUBLE PRECISION NOT NULL, UNIQUE(root, pipeline))
                """,
                """
                CREATE TABLE documents(
                    run_id BIGINT NOT NULL REFERENCES runs(id), path TEXT NOT NULL, sha256 TEXT, size BIGINT,
                    mtime DOUBLE PRECISION, status TEXT NOT NULL, reason TEXT, PRIMARY KEY(run_id, path))
                """,
                """
                CREATE TABLE jobs(
                    id BIGSERIAL PRIMARY KEY, run_id BIGINT NOT NULL REFERENCES runs(id), stage TEXT NOT NULL,
                    key TEXT NOT NULL, state TEXT NOT NULL, payload BYTEA NOT NULL, body BYTEA,
                    attempts INTEGER NOT NULL DEFAULT 0, rate_limited INTEGER NOT NULL DEFAULT 0, error_class TEXT,
                    error_message TEXT, not_before DOUBLE PRECISION NOT NULL DEFAULT 0, lease_owner TEXT,
                    lease_expires DOUBLE PRECISION, created DOUBLE PRECISION NOT NULL,
                    updated DOUBLE PRECISION NOT NULL, parts_needed INTEGER, UNIQUE(run_id, stage, key))
                """,
                "CREATE INDEX jobs_ready ON jobs(stage, id) WHERE state = 'ready'",
                "CREATE INDEX jobs_leased ON jobs(lease_owner) WHERE state = 'leased'",
                "CREATE INDEX jobs_failed ON jobs(error_class) WHERE state = 'failed'",
                """
                CREATE TABLE job_parts(
                    job_id BIGINT NOT NULL, part INTEGER NOT NULL, payload BYTEA NOT NULL, PRIMARY KEY(job_id, part))
                """,
                """
                CREATE TABLE spend(
                    run_id BIGINT NOT NULL, document TEXT NOT NULL, deployment TEXT NOT NULL, model TEXT NOT NULL,
                    calls BIGINT NOT NULL, prompt_tokens BIGINT NOT NULL, cached_tokens BIGINT NOT NULL,
                    completion_tokens BIGINT NOT NULL, reasoning_tokens BIGINT NOT NULL,
                    cost DOUBLE PRECISION NOT NULL, unpriced_calls BIGINT NOT NULL,
                    PRIMARY KEY(run_id, document, deployment, model))
                """,
                """
                CREATE TABLE unit_results(
                    unit_key TEXT PRIMARY KEY, result BYTEA NOT NULL, body BYTEA, created DOUBLE PRECISION NOT NULL)
                """,
                "CREATE TABLE outputs(path TEXT PRIMARY KEY, committed_length BIGINT NOT NULL)",
                """
                CREATE TABLE run_state(key TEXT PRIMARY KEY, value BYTEA NOT NULL, updated DOUBLE PRECISION NOT NULL)
                """,
                """
                CREATE TABLE workers(
                    owner TEXT PRIMARY KEY, started DOUBLE PRECISION NOT NULL, heartbeat DOUBLE PRECISION NOT NULL)
                """,
                """
                CREATE TABLE budget_reservations(
                    job_id BIGINT PRIMARY KEY, owner TEXT NOT NULL, amount DOUBLE PRECISION NOT NULL)
                """,
            ]),
        Migration(
            version: 2, name: "the hosts a job was passed on by",
            statements: ["ALTER TABLE jobs ADD COLUMN passed_by TEXT"]),
        Migration(
            version: 3, name: "the batch lane: batches, their lines, and jobs held in them",
            statements: [
                """
                CREATE TABLE batches(
                    id BIGSERIAL PRIMARY KEY, deployment TEXT NOT NULL, name TEXT NOT NULL UNIQUE, step TEXT NOT NULL,
                    owner TEXT, input_tokens BIGINT NOT NULL, record BYTEA NOT NULL, updated DOUBLE PRECISION NOT NULL,
                    cancel BOOLEAN NOT NULL DEFAULT FALSE)
                """,
                """
                CREATE TABLE batch_lines(
                    batch_id BIGINT NOT NULL, custom_id TEXT NOT NULL, job_id BIGINT NOT NULL,
                    PRIMARY KEY(batch_id, custom_id))
                """,
                "CREATE INDEX batch_lines_job ON batch_lines(job_id, batch_id)",
            ]),
    ]

    static var latest: Int { all.last?.version ?? 0 }

    /// Brings the database to the latest version.
    ///
    /// - Throws: ``SluiceError`` naming the database when it was made by a later Sluice, or a step fails.
    static func migrate(_ client: PostgresClient, location: PostgresLocation, logger: Logger) async throws {
        try await client.withConnection { connection in
            try await connection.rows("BEGIN", logger: logger)
            do {
                // Under the lock even the version table is made once (two CREATE TABLE IF NOT EXISTS at
                // once can collide in PostgreSQL's catalog).
                try await connection.rows("SELECT pg_advisory_xact_lock($1)", [.integer(lockKey)], logger: logger)
                try await connection.rows(
                    "CREATE TABLE IF NOT EXISTS sluice_schema(version INTEGER NOT NULL)", logger: logger)
                let current = try await version(connection, logger: logger)
                guard current <= latest else {
                    throw SluiceError(
                        .database,
                        "\(location): the queue's schema is version \(current), newer than this sluice knows (\(latest)); use a newer sluice"
                    )
                }
                for migration in all where migration.version > current {
                    for statement in migration.statements {
                        do {
                            try await connection.rows(statement, logger: logger)
                        } catch {
                            throw postgresError(
                                error, location: location,
                                doing: "migrating the queue to version \(migration.version) (\(migration.name))")
                        }
                    }
                }
                try await connection.rows("DELETE FROM sluice_schema", logger: logger)
                try await connection.rows(
                    "INSERT INTO sluice_schema(version) VALUES($1)", [.integer(Int64(latest))], logger: logger)
                try await connection.rows("COMMIT", logger: logger)
            } catch {
                _ = try? await connection.rows("ROLLBACK", logger: logger)
                throw error
            }
        }
    }

    static func version(_ connection: PostgresConnection, logger: Logger) async throws -> Int {
        let rows = try await connection.rows("SELECT max(version)::BIGINT FROM sluice_schema", logger: logger)
        return Int(try rows.first?.optionalInt(0) ?? 0)
    }
}
