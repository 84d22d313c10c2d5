import Foundation
import Logging
import NIOCore
import PostgresNIO
import SluiceCore

/// The job queue in a PostgreSQL database: the backend for many workers on many hosts sharing one run.
///
/// The same protocol and job states as ``SQLiteJobQueue``. A claim takes ready jobs with
/// `FOR UPDATE SKIP LOCKED`, so workers never wait for each other's rows; a job's end, its successors,
/// its parts, spend and stored result are one transaction.
public final class PostgresJobQueue: JobQueue {
    /// Where the database is (its password never shown).
    public let location: PostgresLocation
    /// Wakes this process's workers when its commits make jobs ready.
    public let signals = WorkSignals()
    let client: PostgresClient
    let logger: Logger
    /// The client's connection pool at work, until ``close()``.
    private let running: Task<Void, Never>

    /// Connects (lazily, through a pool) and brings the schema up to date.
    ///
    /// - Throws: ``SluiceError`` naming the database when it cannot be reached or migrated.
    public init(location: PostgresLocation, logger: Logger = Logger(label: "sluice.postgres")) async throws {
        self.location = location
        self.logger = logger
        // The pool's own events: errors only (it warns when a query comes before its run loop starts).
        var background = logger
        background.logLevel = .error
        let client = PostgresClient(configuration: location.configuration, backgroundLogger: background)
        self.client = client
        // The pool's own service, and a listener for other workers' commits; both end with close().
        let signals = signals
        running = Task {
            await withDiscardingTaskGroup { group in
                group.addTask { await client.run() }
                group.addTask { await Self.listen(client: client, signals: signals, logger: logger) }
            }
        }
        do {
            try await PostgresMigrations.migrate(client, location: location, logger: logger)
        } catch {
            running.cancel()
            throw postgresError(error, location: location, doing: "opening the queue")
        }
    }

    /// The channel commits are announced on: the payload names the stages that got ready jobs.
    static let channel = "sluice_jobs"

    /// Wakes this process's idle workers when another worker's commit made jobs of their stage ready
    /// (LISTEN on one pooled connection, listening again after a lost connection).
    private static func listen(client: PostgresClient, signals: WorkSignals, logger: Logger) async {
        while !Task.isCancelled {
            do {
                try await client.withConnection { connection in
                    try await connection.listen(on: channel) { notifications in
                        for try await notification in notifications {
                            signals.notify(
                                notification.payload.split(separator: ",").compactMap { Stage(rawValue: String($0)) })
                        }
                    }
                }
            } catch {
                if Task.isCancelled { return }
                logger.debug("listening for commits: \(error)")
            }
            // Commits of others are still seen through the stages' fallback look meanwhile.
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// Tells every worker listening which stages got ready jobs (after the commit that made them).
    func announce(_ stages: some Sequence<Stage>) async {
        let names = Set(stages).map(\.rawValue).sorted().joined(separator: ",")
        guard !names.isEmpty else { return }
        // A lost announcement costs a fallback interval, never work: no error goes further.
        _ = try? await client.withConnection { connection in
            try await connection.rows("SELECT pg_notify($1, $2)", [.text(Self.channel), .text(names)], logger: logger)
        }
    }

    /// Runs SQL on a database without opening it as a queue (for tests of other versions).
    package static func execute(_ sql: String, at location: PostgresLocation) async throws {
        let client = PostgresClient(configuration: location.configuration)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            _ = try await client.withConnection { connection in
                try await connection.rows(sql, logger: Logger(label: "sluice.postgres"))
            }
        }
    }

    /// Closes the connections.
    public func close() async {
        running.cancel()
        await running.value
    }

    deinit { running.cancel() }

    /// Runs `body` in a transaction, retried (up to 3 times) when PostgreSQL ends it for a deadlock or
    /// a serialization failure; other errors become ``SluiceError`` naming the database and `what`.
    @discardableResult
    func write<T: Sendable>(_ what: String, _ body: (PostgresConnection) async throws -> T) async throws -> T {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await client.withConnection { connection in
                    try await connection.rows("BEGIN", logger: logger)
                    do {
                        let value = try await body(connection)
                        try await connection.rows("COMMIT", logger: logger)
                        return value
                    } catch {
                        _ = try? await connection.rows("ROLLBACK", logger: logger)
                        throw error
                    }
                }
            } catch let error as PSQLError where attempt < 3 && Self.isTransient(error) {
                continue
            } catch {
                throw postgresError(error, location: location, doing: what)
            }
        }
    }

    /// Runs `body` outside a transaction (reads).
    func read<T: Sendable>(_ what: String, _ body: (PostgresConnection) async throws -> T) async throws -> T {
        do {
            return try await client.withConnection { connection in try await body(connection) }
        } catch {
            throw postgresError(error, location: location, doing: what)
        }
    }

    static func isTransient(_ error: PSQLError) -> Bool {
        guard let state = error.serverInfo?[.sqlState] else { return false }
        return state == "40001" || state == "40P01"
    }

    // MARK: Runs and documents

    public func run(root: String, pipeline: PipelineDefinition, pipelineHash: String) async throws -> RunRecord {
        let definition = try JSONEncoder.sluice.encode(pipeline)
        let id = try await write("recording the run") { connection in
            let rows = try await connection.rows(
                """
                INSERT INTO runs(root, pipeline, pipeline_hash, definition, created) VALUES($1, $2, $3, $4, $5)
                ON CONFLICT(root, pipeline) DO UPDATE SET pipeline_hash = excluded.pipeline_hash,
                definition = excluded.definition RETURNING id
                """,
                [
                    .text(root), .text(pipeline.name), .text(pipelineHash), .bytes(definition),
                    .real(Date().timeIntervalSince1970),
                ],
                logger: logger)
            guard let row = rows.first else { throw SluiceError(.database, "the run for \(root) vanished") }
            return try row.int(0)
        }
        return RunRecord(id: id, root: root, pipeline: pipeline, pipelineHash: pipelineHash)
    }

    public func runs() async throws -> [RunRecord] {
        let rows = try await read("reading the runs") { connection in
            try await connection.rows(
                "SELECT id, root, pipeline_hash, definition FROM runs ORDER BY id", logger: logger
            )
            .map { (try $0.int(0), try $0.text(1), try $0.text(2), try $0.bytes(3)) }
        }
        return try rows.map { id, root, hash, definition in
            let pipeline = try JSONDecoder().decode(PipelineDefinition.self, from: definition)
            return RunRecord(id: id, root: root, pipeline: pipeline, pipelineHash: hash)
        }
    }

    public func knownDocuments(runID: Int64) async throws -> [String: DocumentRef] {
        try await read("reading the documents") { connection in
            var known: [String: DocumentRef] = [:]
            for row in try await connection.rows(
                "SELECT path, sha256, size, mtime FROM documents WHERE run_id = $1 AND status = 'ok'",
                [.integer(runID)],
                logger: logger)
            {
                let path = try row.text(0)
                known[path] = DocumentRef(
                    path: path, sha256: try row.text(1), size: try row.int(2), mtime: try row.double(3))
            }
            return known
        }
    }

    /// Rows of one statement over many (documents, jobs): a round trip each, of a bounded size.
    static let rowsPerStatement = 2_000

    public func recordDocuments(run: RunRecord, found: [FoundDocument], skipped: [SkippedFile]) async throws
        -> EnqueueSummary
    {
        let runID = run.id
        let payloads = try FoundDocument.ingestPayloads(found)
        defer { signals.notify([.ingest]) }
        let summary = try await write("recording the documents") { connection in
            let now = Date().timeIntervalSince1970
            var summary = EnqueueSummary()
            var previous: [String: (String, String?)] = [:]
            for row in try await connection.rows(
                "SELECT path, status, sha256 FROM documents WHERE run_id = $1 FOR UPDATE", [.integer(runID)],
                logger: logger)
            {
                previous[try row.text(0)] = (try row.text(1), try row.optionalText(2))
            }
            var seen = Set<String>()
            for item in found {
                seen.insert(item.document.path)
                summary.count(item.document, recorded: previous[item.document.path])
            }
            // A few thousand rows a statement: one round trip each, not one per document.
            let indices = Array(found.indices)
            for slice in stride(from: 0, to: indices.count, by: Self.rowsPerStatement).map({
                indices[$0..<min($0 + Self.rowsPerStatement, indices.count)]
            }) {
                let documents = slice.map { found[$0].document }
                try await connection.rows(
                    """
                    INSERT INTO documents(run_id, path, sha256, size, mtime, status, reason)
                    SELECT $1, path, sha256, size, mtime, 'ok', NULL
                    FROM unnest($2::TEXT[], $3::TEXT[], $4::BIGINT[], $5::DOUBLE PRECISION[]) AS given(path, sha256, size, mtime)
                    ON CONFLICT(run_id, path) DO UPDATE SET sha256 = excluded.sha256, size = excluded.size,
                    mtime = excluded.mtime, status = 'ok', reason = NULL
                    """,
                    [
                        .integer(runID), .texts(documents.map(\.path)), .texts(documents.map(\.sha256)),
                        .integers(documents.map(\.size)), .reals(documents.map(\.mtime)),
                    ], logger: logger)
                try await insertJobs(
                    connection,
                    slice.map {
                        NewJob(
                            runID: runID, stage: .ingest,
                            key: JobKey.document(found[$0].document, pipelineHash: run.pipelineHash),
                            payload: payloads[$0])
                    }, now: now)
            }
            for file in skipped {
                seen.insert(file.path)
                summary.skipped += 1
                summary.skippedFiles.append(file)
            }
            for start in stride(from: 0, to: skipped.count, by: Self.rowsPerStatement) {
                let files = skipped[start..<min(start + Self.rowsPerStatement, skipped.count)]
                try await connection.rows(
                    """
                    INSERT INTO documents(run_id, path, status, reason)
                    SELECT $1, path, 'skipped', reason FROM unnest($2::TEXT[], $3::TEXT[]) AS given(path, reason)
                    ON CONFLICT(run_id, path) DO UPDATE SET status = 'skipped', reason = excluded.reason
                    """,
                    [.integer(runID), .texts(files.map(\.path)), .texts(files.map(\.reason))], logger: logger)
            }
            let deleted = previous.filter { !seen.contains($0.key) && $0.value.0 != "deleted" }.keys.sorted()
            summary.deleted += deleted.count
            for start in stride(from: 0, to: deleted.count, by: Self.rowsPerStatement) {
                try await connection.rows(
                    "UPDATE documents SET status = 'deleted' WHERE run_id = $1 AND path = ANY($2::TEXT[])",
                    [
                        .integer(runID),
                        .texts(Array(deleted[start..<min(start + Self.rowsPerStatement, deleted.count)])),
                    ],
                    logger: logger)
            }
            return summary
        }
        await announce([.ingest])
        return summary
    }

    // MARK: Jobs

    @discardableResult
    public func enqueue(_ jobs: [NewJob]) async throws -> Int {
        let added = try await write("enqueueing jobs") { connection in
            let now = Date().timeIntervalSince1970
            return try await insertJobs(connection, jobs, now: now)
        }
        if added > 0 {
            signals.notify(jobs.map(\.stage))
            await announce(jobs.map(\.stage))
        }
        return added
    }

    public func claim(stage: Stage, limit: Int, owner: String, leaseSeconds: Double, now: Double) async throws -> [Job]
    {
        try await write("claiming \(stage.rawValue) jobs") { connection in
            var jobs = try await connection.rows(
                """
                UPDATE jobs SET state = 'leased', lease_owner = $1, lease_expires = $2, updated = $3
                WHERE id IN (SELECT id FROM jobs WHERE stage = $4 AND state = 'ready' AND not_before <= $3
                             AND (passed_by IS NULL OR updated < $6 OR strpos(passed_by, $7) = 0)
                             ORDER BY id LIMIT $5 FOR UPDATE SKIP LOCKED)
                RETURNING id, run_id, key, payload, attempts, rate_limited, body
                """,
                [
                    .text(owner), .real(now + leaseSeconds), .real(now), .text(stage.rawValue), .integer(Int64(limit)),
                    .real(now - PassedHosts.exclusionSeconds), .text(PassedHosts.token(of: owner)),
                ],
                logger: logger
            ).map { row in
                Job(
                    id: try row.int(0), runID: try row.int(1), stage: stage, key: try row.text(2),
                    payload: try row.bytes(3), attempts: Int(try row[4].decode(Int32.self)),
                    rateLimited: Int(try row[5].decode(Int32.self)), body: try row.optionalBytes(6))
            }
            jobs.sort { $0.id < $1.id }
            if stage == .reduce {
                for index in jobs.indices {
                    jobs[index].parts = try await connection.rows(
                        "SELECT payload FROM job_parts WHERE job_id = $1 ORDER BY part", [.integer(jobs[index].id)],
                        logger: logger
                    ).map { try $0.bytes(0) }
                }
            }
            return jobs
        }
    }

    /// Adds jobs in one statement; those whose (run, stage, key) exists are not added. Returns how many were.
    @discardableResult
    func insertJobs(_ connection: PostgresConnection, _ jobs: [NewJob], now: Double) async throws -> Int {
        guard !jobs.isEmpty else { return 0 }
        return try await connection.rows(
            """
            INSERT INTO jobs(run_id, stage, key, state, payload, body, created, updated, parts_needed)
            SELECT run_id, stage, key, CASE WHEN parts > 0 THEN 'waiting' ELSE 'ready' END, payload,
                CASE WHEN has_body THEN body END, $8, $8, NULLIF(parts, -1)
            FROM unnest($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::BYTEA[], $5::BOOLEAN[], $6::BYTEA[], $7::INTEGER[])
                AS given(run_id, stage, key, payload, has_body, body, parts)
            ON CONFLICT(run_id, stage, key) DO NOTHING RETURNING id
            """,
            [
                .integers(jobs.map(\.runID)), .texts(jobs.map(\.stage.rawValue)), .texts(jobs.map(\.key)),
                .byteArrays(jobs.map { ByteBuffer(bytes: $0.payload) }), .booleans(jobs.map { $0.body != nil }),
                .byteArrays(jobs.map { ByteBuffer(bytes: $0.body ?? Data()) }),
                .int32s(jobs.map { Int32(clamping: $0.parts ?? -1) }), .real(now),
            ], logger: logger
        ).count
    }

    /// Marks leased jobs done in one statement; the ids of those whose lease was still held. Their
    /// budget reservations go (the completion records what the calls cost); a done collect job keeps
    /// its input for the export.
    func finish(_ connection: PostgresConnection, _ ids: [Int64], owner: String, now: Double) async throws -> Set<Int64>
    {
        try await connection.rows(
            "DELETE FROM budget_reservations WHERE job_id = ANY($1::BIGINT[])", [.integers(ids)], logger: logger)
        return Set(
            try await connection.rows(
                """
                UPDATE jobs SET state = 'done', payload = CASE WHEN stage = 'collect' THEN payload ELSE '\\x'::BYTEA END,
                body = CASE WHEN stage = 'collect' THEN body END, lease_owner = NULL, lease_expires = NULL, updated = $2
                WHERE id = ANY($1::BIGINT[]) AND state = 'leased' AND lease_owner = $3 RETURNING id
                """,
                [.integers(ids), .real(now), .text(owner)], logger: logger
            ).map { try $0.int(0) })
    }
}
