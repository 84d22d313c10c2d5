import SluiceCore

/// The queue's schema as numbered steps. A database records the last step it has in
/// `PRAGMA user_version`; opening it applies the later ones, each in its own transaction, so a
/// database of any earlier Sluice is brought up to date and one of a later Sluice is refused.
enum SQLiteMigrations {
    struct Migration {
        let version: Int32
        let name: String
        let sql: String
    }

    static let all: [Migration] = [
        Migration(
            version: 1, name: "runs, documents, jobs, parts, spend, unit results, outputs and run state",
            sql: """
                CREATE TABLE IF NOT EXISTS runs(
                    id INTEGER PRIMARY KEY, root TEXT NOT NULL, pipeline TEXT NOT NULL, pipeline_hash TEXT NOT NULL,
                    definition BLOB NOT NULL, created REAL NOT NULL, UNIQUE(root, pipeline));
                CREATE TABLE IF NOT EXISTS documents(
                    run_id INTEGER NOT NULL REFERENCES runs(id), path TEXT NOT NULL, sha256 TEXT, size INTEGER,
                    mtime REAL, status TEXT NOT NULL, reason TEXT, PRIMARY KEY(run_id, path));
                CREATE TABLE IF NOT EXISTS jobs(
                    id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id), stage TEXT NOT NULL,
                    key TEXT NOT NULL, state TEXT NOT NULL, payload BLOB NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
                    rate_limited INTEGER NOT NULL DEFAULT 0, error_class TEXT, error_message TEXT,
                    not_before REAL NOT NULL DEFAULT 0, lease_owner TEXT, lease_expires REAL,
                    created REAL NOT NULL, updated REAL NOT NULL, UNIQUE(run_id, stage, key));
                CREATE TABLE IF NOT EXISTS job_parts(
                    job_id INTEGER NOT NULL, part INTEGER NOT NULL, payload BLOB NOT NULL, PRIMARY KEY(job_id, part)) WITHOUT ROWID;
                CREATE TABLE IF NOT EXISTS spend(
                    run_id INTEGER NOT NULL, document TEXT NOT NULL, deployment TEXT NOT NULL, model TEXT NOT NULL,
                    calls INTEGER NOT NULL, prompt_tokens INTEGER NOT NULL, cached_tokens INTEGER NOT NULL,
                    completion_tokens INTEGER NOT NULL, reasoning_tokens INTEGER NOT NULL, cost REAL NOT NULL,
                    unpriced_calls INTEGER NOT NULL, PRIMARY KEY(run_id, document, deployment, model));
                CREATE INDEX IF NOT EXISTS jobs_ready ON jobs(stage, id) WHERE state = 'ready';
                CREATE INDEX IF NOT EXISTS jobs_leased ON jobs(lease_owner) WHERE state = 'leased';
                CREATE TABLE IF NOT EXISTS unit_results(unit_key TEXT PRIMARY KEY, result BLOB NOT NULL, created REAL NOT NULL);
                CREATE INDEX IF NOT EXISTS jobs_failed ON jobs(error_class) WHERE state = 'failed';
                CREATE TABLE IF NOT EXISTS outputs(path TEXT PRIMARY KEY, committed_length INTEGER NOT NULL);
                CREATE TABLE IF NOT EXISTS run_state(key TEXT PRIMARY KEY, value BLOB NOT NULL, updated REAL NOT NULL);
                """),
        Migration(
            version: 2, name: "reduce jobs wait for their parts",
            sql: "ALTER TABLE jobs ADD COLUMN parts_needed INTEGER;"),
        Migration(
            version: 3, name: "job counts per stage and state, kept by triggers",
            sql: """
                CREATE TABLE IF NOT EXISTS job_counts(
                    stage TEXT NOT NULL, state TEXT NOT NULL, count INTEGER NOT NULL, PRIMARY KEY(stage, state)) WITHOUT ROWID;
                INSERT OR IGNORE INTO job_counts(stage, state, count)
                    SELECT stage.value, state.value, 0
                    FROM json_each('["ingest","chunk","prompt","call","reduce","collect"]') AS stage,
                         json_each('["ready","leased","done","failed","waiting"]') AS state;
                UPDATE job_counts SET count = (
                    SELECT count(*) FROM jobs WHERE jobs.stage = job_counts.stage AND jobs.state = job_counts.state);
                CREATE TRIGGER IF NOT EXISTS jobs_counted_insert AFTER INSERT ON jobs BEGIN
                    UPDATE job_counts SET count = count + 1 WHERE stage = new.stage AND state = new.state;
                END;
                CREATE TRIGGER IF NOT EXISTS jobs_counted_update AFTER UPDATE OF state ON jobs WHEN old.state <> new.state BEGIN
                    UPDATE job_counts SET count = count - 1 WHERE stage = old.stage AND state = old.state;
                    UPDATE job_counts SET count = count + 1 WHERE stage = new.stage AND state = new.state;
                END;
                """),
        Migration(
            version: 4, name: "request and response bodies as bytes beside the JSON",
            sql: """
                ALTER TABLE jobs ADD COLUMN body BLOB;
                ALTER TABLE unit_results ADD COLUMN body BLOB;
                UPDATE jobs SET body = CAST(json_extract(CAST(payload AS TEXT), '$.body') AS BLOB),
                    payload = CAST(json_remove(CAST(payload AS TEXT), '$.body') AS BLOB)
                    WHERE stage = 'call' AND state <> 'done';
                UPDATE jobs SET body = CAST(json_extract(CAST(payload AS TEXT), '$.record.body') AS BLOB),
                    payload = CAST(json_remove(CAST(payload AS TEXT), '$.record.body') AS BLOB)
                    WHERE stage = 'collect' AND state <> 'done';
                UPDATE unit_results SET body = CAST(json_extract(CAST(result AS TEXT), '$.body') AS BLOB),
                    result = CAST(json_remove(CAST(result AS TEXT), '$.body') AS BLOB);
                """),
        Migration(
            version: 5, name: "workers and their heartbeats",
            sql: """
                CREATE TABLE IF NOT EXISTS workers(
                    owner TEXT PRIMARY KEY, started REAL NOT NULL, heartbeat REAL NOT NULL) WITHOUT ROWID;
                """),
        Migration(
            version: 6, name: "budget reservations of calls in flight",
            sql: """
                CREATE TABLE IF NOT EXISTS budget_reservations(
                    job_id INTEGER PRIMARY KEY, owner TEXT NOT NULL, amount REAL NOT NULL);
                """),
        Migration(
            version: 7, name: "the hosts a job was passed on by", sql: "ALTER TABLE jobs ADD COLUMN passed_by TEXT;"),
        Migration(
            version: 8, name: "the batch lane: batches, their lines, and jobs held in them",
            sql: """
                CREATE TABLE IF NOT EXISTS batches(
                    id INTEGER PRIMARY KEY, deployment TEXT NOT NULL, name TEXT NOT NULL UNIQUE, step TEXT NOT NULL,
                    owner TEXT, input_tokens INTEGER NOT NULL, record BLOB NOT NULL, updated REAL NOT NULL,
                    cancel INTEGER NOT NULL DEFAULT 0);
                CREATE TABLE IF NOT EXISTS batch_lines(
                    batch_id INTEGER NOT NULL, custom_id TEXT NOT NULL, job_id INTEGER NOT NULL,
                    PRIMARY KEY(batch_id, custom_id)) WITHOUT ROWID;
                CREATE INDEX IF NOT EXISTS batch_lines_job ON batch_lines(job_id, batch_id);
                INSERT OR IGNORE INTO job_counts(stage, state, count)
                    SELECT stage.value, 'batched', 0
                    FROM json_each('["ingest","chunk","prompt","call","reduce","collect"]') AS stage;
                """),
    ]

    static var latest: Int32 { all.last?.version ?? 0 }

    /// Brings the database to the latest version, in one write transaction (another process opening
    /// the same file at once waits, then finds it up to date).
    ///
    /// - Throws: ``SluiceError`` naming the file when it was made by a later Sluice, or a step fails.
    static func migrate(_ connection: SQLiteConnection, path: String) throws {
        // Most opens find the database current: no write transaction for them.
        if try userVersion(connection) == latest { return }
        try connection.transaction {
            let recorded = try userVersion(connection)
            let version = recorded == 0 ? try unversioned(connection) : recorded
            guard version <= latest else {
                throw SluiceError(
                    .database,
                    "\(path): the queue's schema is version \(version), newer than this sluice knows (\(latest)); use a newer sluice"
                )
            }
            // Version 1 creates only what is missing, so it also completes an unversioned database
            // of the first releases, whichever of its tables they had made.
            for migration in all where migration.version > version || (recorded == 0 && migration.version == 1) {
                do {
                    try connection.execute(migration.sql)
                } catch {
                    throw SluiceError(
                        .database,
                        "\(path): migrating the queue to version \(migration.version) (\(migration.name)): \(error)",
                        cause: error)
                }
            }
            try connection.execute("PRAGMA user_version = \(latest)")
        }
    }

    static func userVersion(_ connection: SQLiteConnection) throws -> Int32 {
        let select = try connection.statement("PRAGMA user_version")
        guard try select.step() else { return 0 }
        return Int32(truncatingIfNeeded: select.int(0))
    }

    /// The version of a database made before versions were recorded, read from what it holds (0: empty).
    static func unversioned(_ connection: SQLiteConnection) throws -> Int32 {
        let columns = try connection.statement("SELECT name FROM pragma_table_info('jobs')")
        var names = Set<String>()
        while try columns.step() { names.insert(columns.text(0)) }
        if names.isEmpty { return 0 }
        if !names.contains("parts_needed") { return 1 }
        let tables = try connection.statement(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'job_counts'")
        guard try tables.step(), tables.int(0) > 0 else { return 2 }
        guard names.contains("body") else { return 3 }
        let workers = try connection.statement(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'workers'")
        guard try workers.step() && workers.int(0) > 0 else { return 4 }
        let reservations = try connection.statement(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'budget_reservations'")
        return try reservations.step() && reservations.int(0) > 0 ? 6 : 5
    }
}
