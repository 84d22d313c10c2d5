import Foundation
import SluiceCore
import Synchronization

/// The job queue in a SQLite file (WAL mode), the embedded default.
///
/// A job is leased by a worker (owner and expiry) and finished by marking it done and inserting its
/// successors in one transaction; the table's unique (run, stage, key) makes enqueueing idempotent.
public final class SQLiteJobQueue: JobQueue {
    let database: SQLiteDatabase
    /// The database file.
    public let path: String
    /// Wakes this process's workers when its commits make jobs ready.
    public let signals = WorkSignals()
    /// Whether this process has reserved budget in the queue: until it has, a job's end has no
    /// reservation to drop (a SQLite queue has one run at a time, which keeps its budget itself).
    let reservesBudget = Mutex(false)

    /// Opens (creating if needed) a queue database.
    public init(path: String) throws {
        self.path = path
        database = try SQLiteDatabase(path: path)
        try database.performNow { connection in try SQLiteMigrations.migrate(connection, path: path) }
    }

    /// Opens an existing queue database for reading only (`sluice status` on a file or folder this user
    /// may not write): nothing is created or migrated, and writes fail.
    public init(readingOnly path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else {
            throw SluiceError(.database, "\(path): no such database")
        }
        self.path = path
        database = try SQLiteDatabase(path: path, readOnly: true)
    }

    /// Runs SQL on a database file without opening it as a queue (for tests of older databases).
    package static func execute(_ sql: String, inDatabaseAt path: String) throws {
        try SQLiteConnection(path: path).execute(sql)
    }

    /// Keys of reduce calls (stage call) start with this, so they can be counted apart from chunk calls.
    public static let reduceCallPrefix = JobKey.reduceCallPrefix

    // MARK: Runs and documents

    public func run(root: String, pipeline: PipelineDefinition, pipelineHash: String) async throws -> RunRecord {
        let definition = try JSONEncoder.sluice.encode(pipeline)
        return try await database.write { connection in
            let now = Date().timeIntervalSince1970
            try connection.run(
                """
                INSERT INTO runs(root, pipeline, pipeline_hash, definition, created) VALUES(?, ?, ?, ?, ?)
                ON CONFLICT(root, pipeline) DO UPDATE SET pipeline_hash = excluded.pipeline_hash,
                definition = excluded.definition
                """,
                [.text(root), .text(pipeline.name), .text(pipelineHash), .blob(Array(definition)), .real(now)])
            let select = try connection.statement("SELECT id FROM runs WHERE root = ? AND pipeline = ?")
            try select.bind([.text(root), .text(pipeline.name)])
            guard try select.step() else { throw SluiceError(.database, "the run for \(root) vanished") }
            return RunRecord(id: select.int(0), root: root, pipeline: pipeline, pipelineHash: pipelineHash)
        }
    }

    public func runs() async throws -> [RunRecord] {
        let rows = try await database.perform { connection in
            let select = try connection.statement("SELECT id, root, pipeline_hash, definition FROM runs ORDER BY id")
            var rows: [(Int64, String, String, [UInt8])] = []
            while try select.step() { rows.append((select.int(0), select.text(1), select.text(2), select.blob(3))) }
            return rows
        }
        return try rows.map { id, root, hash, definition in
            let pipeline = try JSONDecoder().decode(PipelineDefinition.self, from: Data(definition))
            return RunRecord(id: id, root: root, pipeline: pipeline, pipelineHash: hash)
        }
    }

    public func knownDocuments(runID: Int64) async throws -> [String: DocumentRef] {
        try await database.perform { connection in
            let select = try connection.statement(
                "SELECT path, sha256, size, mtime FROM documents WHERE run_id = ? AND status = 'ok'")
            try select.bind([.integer(runID)])
            var known: [String: DocumentRef] = [:]
            while try select.step() {
                let path = select.text(0)
                known[path] = DocumentRef(
                    path: path, sha256: select.text(1), size: select.int(2), mtime: select.double(3))
            }
            return known
        }
    }

    public func recordDocuments(run: RunRecord, found: [FoundDocument], skipped: [SkippedFile]) async throws
        -> EnqueueSummary
    {
        let runID = run.id
        let payloads = try FoundDocument.ingestPayloads(found)
        defer { signals.notify([.ingest]) }
        return try await database.write { connection in
            let now = Date().timeIntervalSince1970
            var summary = EnqueueSummary()
            var previous: [String: (String, String?)] = [:]  // path -> (status, sha)
            let select = try connection.statement("SELECT path, status, sha256 FROM documents WHERE run_id = ?")
            try select.bind([.integer(runID)])
            while try select.step() { previous[select.text(0)] = (select.text(1), select.text(2)) }
            var seen = Set<String>()
            for (item, payload) in zip(found, payloads) {
                let document = item.document
                seen.insert(document.path)
                summary.count(document, recorded: previous[document.path])
                try connection.run(
                    """
                    INSERT INTO documents(run_id, path, sha256, size, mtime, status, reason) VALUES(?, ?, ?, ?, ?, 'ok', NULL)
                    ON CONFLICT(run_id, path) DO UPDATE SET sha256 = excluded.sha256, size = excluded.size,
                    mtime = excluded.mtime, status = 'ok', reason = NULL
                    """,
                    [
                        .integer(runID), .text(document.path), .text(document.sha256), .integer(document.size),
                        .real(document.mtime),
                    ])
                try Self.insertJob(
                    connection,
                    NewJob(
                        runID: runID, stage: .ingest, key: JobKey.document(document, pipelineHash: run.pipelineHash),
                        payload: payload),
                    now: now)
            }
            for file in skipped {
                seen.insert(file.path)
                summary.skipped += 1
                summary.skippedFiles.append(file)
                try connection.run(
                    """
                    INSERT INTO documents(run_id, path, status, reason) VALUES(?, ?, 'skipped', ?)
                    ON CONFLICT(run_id, path) DO UPDATE SET status = 'skipped', reason = excluded.reason
                    """,
                    [.integer(runID), .text(file.path), .text(file.reason)])
            }
            for (path, (status, _)) in previous where !seen.contains(path) && status != "deleted" {
                summary.deleted += 1
                try connection.run(
                    "UPDATE documents SET status = 'deleted' WHERE run_id = ? AND path = ?",
                    [.integer(runID), .text(path)])
            }
            return summary
        }
    }

    // MARK: Jobs

    @discardableResult
    public func enqueue(_ jobs: [NewJob]) async throws -> Int {
        let added = try await database.write { connection in
            let now = Date().timeIntervalSince1970
            var added = 0
            for job in jobs { added += try Self.insertJob(connection, job, now: now) }
            return added
        }
        if added > 0 { signals.notify(jobs.map(\.stage)) }
        return added
    }

    @discardableResult
    private static func insertJob(_ connection: SQLiteConnection, _ job: NewJob, now: Double) throws -> Int {
        let waits = (job.parts ?? 0) > 0
        try connection.run(
            """
            INSERT OR IGNORE INTO jobs(run_id, stage, key, state, payload, created, updated, parts_needed, body)
            VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                .integer(job.runID), .text(job.stage.rawValue), .text(job.key), .text(waits ? "waiting" : "ready"),
                .blob(Array(job.payload)), .real(now), .real(now), job.parts.map { .integer(Int64($0)) } ?? .null,
                job.body.map { .blob(Array($0)) } ?? .null,
            ])
        return connection.changes
    }

    /// Stores a part for a waiting job (the first delivery of a part wins) and makes the job ready
    /// when its last part is in.
    private static func deliver(_ connection: SQLiteConnection, _ part: JobPart, now: Double) throws {
        let select = try connection.statement(
            "SELECT id, state, parts_needed FROM jobs WHERE run_id = ? AND stage = 'reduce' AND key = ?")
        try select.bind([.integer(part.runID), .text(part.key)])
        guard try select.step() else { return }
        let id = select.int(0)
        let state = select.text(1)
        let needed = select.isNull(2) ? 0 : select.int(2)
        try connection.run(
            "INSERT OR IGNORE INTO job_parts(job_id, part, payload) VALUES(?, ?, ?)",
            [.integer(id), .integer(Int64(part.part)), .blob(Array(part.payload))])
        guard state == "waiting" else { return }
        let count = try connection.statement("SELECT count(*) FROM job_parts WHERE job_id = ?")
        try count.bind([.integer(id)])
        if try count.step(), count.int(0) >= needed {
            try connection.run(
                "UPDATE jobs SET state = 'ready', not_before = 0, updated = ? WHERE id = ? AND state = 'waiting'",
                [.real(now), .integer(id)])
        }
    }

    /// Adds a call's usage and cost to the spend record.
    private static func record(_ connection: SQLiteConnection, _ spend: Spend) throws {
        try connection.run(
            """
            INSERT INTO spend(run_id, document, deployment, model, calls, prompt_tokens, cached_tokens,
                completion_tokens, reasoning_tokens, cost, unpriced_calls) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(run_id, document, deployment, model) DO UPDATE SET calls = calls + excluded.calls,
                prompt_tokens = prompt_tokens + excluded.prompt_tokens,
                cached_tokens = cached_tokens + excluded.cached_tokens,
                completion_tokens = completion_tokens + excluded.completion_tokens,
                reasoning_tokens = reasoning_tokens + excluded.reasoning_tokens, cost = cost + excluded.cost,
                unpriced_calls = unpriced_calls + excluded.unpriced_calls
            """,
            [
                .integer(spend.runID), .text(spend.document), .text(spend.deployment), .text(spend.model),
                .integer(Int64(spend.calls)), .integer(Int64(spend.promptTokens)),
                .integer(Int64(spend.cachedTokens)), .integer(Int64(spend.completionTokens)),
                .integer(Int64(spend.reasoningTokens)), .real(spend.cost ?? 0),
                .integer(spend.cost == nil ? Int64(spend.calls) : 0),
            ])
    }

    public func claim(stage: Stage, limit: Int, owner: String, leaseSeconds: Double, now: Double) async throws -> [Job]
    {
        try await database.write { connection in
            let statement = try connection.statement(
                """
                UPDATE jobs SET state = 'leased', lease_owner = ?, lease_expires = ?, updated = ?
                WHERE id IN (SELECT id FROM jobs WHERE stage = ? AND state = 'ready' AND not_before <= ?
                             AND (passed_by IS NULL OR updated < ? OR instr(passed_by, ?) = 0)
                             ORDER BY id LIMIT ?)
                RETURNING id, run_id, key, payload, attempts, rate_limited, body
                """)
            try statement.bind([
                .text(owner), .real(now + leaseSeconds), .real(now), .text(stage.rawValue), .real(now),
                .real(now - PassedHosts.exclusionSeconds), .text(PassedHosts.token(of: owner)),
                .integer(Int64(limit)),
            ])
            var jobs: [Job] = []
            while try statement.step() {
                jobs.append(
                    Job(
                        id: statement.int(0), runID: statement.int(1), stage: stage, key: statement.text(2),
                        payload: Data(statement.blob(3)), attempts: Int(statement.int(4)),
                        rateLimited: Int(statement.int(5)), body: statement.isNull(6) ? nil : Data(statement.blob(6))))
            }
            if stage == .reduce {
                let parts = try connection.statement("SELECT payload FROM job_parts WHERE job_id = ? ORDER BY part")
                for index in jobs.indices {
                    parts.reset()
                    try parts.bind([.integer(jobs[index].id)])
                    while try parts.step() { jobs[index].parts.append(Data(parts.blob(0))) }
                }
            }
            return jobs.sorted { $0.id < $1.id }
        }
    }

    public func complete(_ completions: [JobCompletion], owner: String, now: Double) async throws {
        guard !completions.isEmpty else { return }
        defer {
            // Successors, and reduce jobs that a delivered part may have made ready.
            var stages = Set(completions.lazy.flatMap(\.next).map(\.stage))
            if completions.contains(where: { !$0.parts.isEmpty }) { stages.insert(.reduce) }
            signals.notify(stages)
        }
        let dropsReservations = reservesBudget.withLock { $0 }
        try await database.write { connection in
            for completion in completions {
                guard
                    try Self.finish(
                        connection, completion.jobID, owner: owner, now: now, dropsReservation: dropsReservations)
                else { continue }
                for job in completion.next { try Self.insertJob(connection, job, now: now) }
                for part in completion.parts { try Self.deliver(connection, part, now: now) }
                if let spend = completion.spend { try Self.record(connection, spend) }
                if completion.consumesParts {
                    try connection.run("DELETE FROM job_parts WHERE job_id = ?", [.integer(completion.jobID)])
                }
                if let unit = completion.unitResult {
                    try connection.run(
                        "INSERT OR REPLACE INTO unit_results(unit_key, result, body, created) VALUES(?, ?, ?, ?)",
                        [
                            .text(unit.unitKey), .blob(Array(unit.result)), unit.body.map { .blob(Array($0)) } ?? .null,
                            .real(now),
                        ])
                }
            }
        }
    }

    /// Marks a leased job done; false if the lease was lost. Its budget reservation goes (the
    /// completion records what it cost).
    static func finish(
        _ connection: SQLiteConnection, _ id: Int64, owner: String, now: Double, dropsReservation: Bool
    ) throws -> Bool {
        if dropsReservation {
            try connection.run("DELETE FROM budget_reservations WHERE job_id = ?", [.integer(id)])
        }
        try connection.run(
            """
            UPDATE jobs SET state = 'done', payload = CASE WHEN stage = 'collect' THEN payload ELSE x'' END,
            body = CASE WHEN stage = 'collect' THEN body END, lease_owner = NULL, lease_expires = NULL, updated = ?
            WHERE id = ? AND state = 'leased' AND lease_owner = ?
            """,
            [.real(now), .integer(id), .text(owner)])
        return connection.changes == 1
    }

    public func fail(_ failures: [JobFailure], owner: String, now: Double) async throws {
        guard !failures.isEmpty else { return }
        let dropsReservations = reservesBudget.withLock { $0 }
        let retries = try await database.write { connection in
            var retries: [Stage: Double] = [:]
            let update = try connection.statement(
                """
                UPDATE jobs SET state = ?, attempts = attempts + ?, rate_limited = rate_limited + ?,
                error_class = ?, error_message = ?, not_before = ?, lease_owner = NULL, lease_expires = NULL,
                updated = ? WHERE id = ? AND state = 'leased' AND lease_owner = ?
                RETURNING stage
                """)
            for failure in failures {
                if dropsReservations {
                    try connection.run("DELETE FROM budget_reservations WHERE job_id = ?", [.integer(failure.jobID)])
                }
                let attempts: Int64 = failure.countsAsAttempt ? 1 : 0
                let limited: Int64 = failure.errorClass == .rateLimited ? 1 : 0
                update.reset()
                try update.bind([
                    .text(failure.retryAt == nil ? "failed" : "ready"), .integer(attempts), .integer(limited),
                    .text(failure.errorClass.rawValue), .text(failure.message), .real(failure.retryAt ?? now),
                    .real(now), .integer(failure.jobID), .text(owner),
                ])
                guard try update.step() else { continue }
                if let retryAt = failure.retryAt, let stage = Stage(rawValue: update.text(0)) {
                    retries[stage] = min(retries[stage] ?? retryAt, retryAt)
                }
                while try update.step() {}
                for job in failure.next { try Self.insertJob(connection, job, now: now) }
                if let spend = failure.spend { try Self.record(connection, spend) }
                for abandon in failure.abandons where failure.retryAt == nil {
                    try connection.run(
                        """
                        UPDATE jobs SET state = 'failed', error_class = 'incomplete', error_message = ?, updated = ?
                        WHERE run_id = ? AND stage = 'reduce' AND key = ? AND state = 'waiting'
                        """,
                        [.text(abandon.message), .real(now), .integer(abandon.runID), .text(abandon.key)])
                }
            }
            return retries
        }
        // Retries due now wake their stage; later ones are noted for its waiters' deadline.
        let due = retries.filter { $0.value <= now }.map(\.key)
        signals.notify(
            Set(failures.lazy.flatMap(\.next).map(\.stage)).union(due),
            retryAt: retries.filter { $0.value > now })
    }

    public func release(jobIDs: [Int64], owner: String) async throws {
        guard !jobIDs.isEmpty else { return }
        let dropsReservations = reservesBudget.withLock { $0 }
        try await database.write { connection in
            for id in jobIDs {
                try connection.run(
                    """
                    UPDATE jobs SET state = 'ready', lease_owner = NULL, lease_expires = NULL
                    WHERE id = ? AND state = 'leased' AND lease_owner = ?
                    """,
                    [.integer(id), .text(owner)])
                if dropsReservations {
                    try connection.run(
                        "DELETE FROM budget_reservations WHERE job_id = ? AND owner = ?", [.integer(id), .text(owner)])
                }
            }
        }
        signals.notifyAll()
    }

    public func passOn(_ failures: [JobFailure], owner: String, liveSince: Double, now: Double) async throws {
        guard !failures.isEmpty else { return }
        try await database.write { connection in
            let workers = try connection.statement("SELECT owner FROM workers WHERE heartbeat >= ?")
            try workers.bind([.real(liveSince)])
            var live = [owner]
            while try workers.step() { live.append(workers.text(0)) }
            let select = try connection.statement(
                "SELECT passed_by FROM jobs WHERE id = ? AND state = 'leased' AND lease_owner = ?")
            for failure in failures {
                select.reset()
                try select.bind([.integer(failure.jobID), .text(owner)])
                guard try select.step() else { continue }
                let (hosts, message) = PassedHosts.outcome(
                    passed: select.isNull(0) ? nil : select.text(0), owner: owner, live: live, failure: failure)
                try connection.run(
                    """
                    UPDATE jobs SET state = ?, passed_by = ?, error_class = ?, error_message = ?,
                    attempts = attempts + ?, lease_owner = NULL, lease_expires = NULL, updated = ? WHERE id = ?
                    """,
                    [
                        .text(message == nil ? "ready" : "failed"), .text(hosts),
                        message == nil ? .null : .text(failure.errorClass.rawValue), message.map { .text($0) } ?? .null,
                        .integer(message == nil ? 0 : 1), .real(now), .integer(failure.jobID),
                    ])
            }
        }
        signals.notifyAll()
    }

    public func reclaimLeases(owners: [String], expiredBefore: Double) async throws -> Int {
        let count = try await database.write { connection in
            var reclaimed = 0
            for owner in owners {
                try connection.run(
                    "UPDATE jobs SET state = \(BatchSQL.reclaimedState), lease_owner = NULL, lease_expires = NULL WHERE state = 'leased' AND lease_owner = ?",
                    [.text(owner)])
                reclaimed += connection.changes
                try connection.run("DELETE FROM budget_reservations WHERE owner = ?", [.text(owner)])
                // Its batches go on: another worker adopts them.
                try connection.run("UPDATE batches SET owner = NULL WHERE owner = ?", [.text(owner)])
            }
            try connection.run(
                "UPDATE jobs SET state = \(BatchSQL.reclaimedState), lease_owner = NULL, lease_expires = NULL WHERE state = 'leased' AND lease_expires < ?",
                [.real(expiredBefore)])
            return reclaimed + connection.changes
        }
        if count > 0 { signals.notifyAll() }
        return count
    }

    public func leaseOwners() async throws -> [String] {
        try await database.perform { connection in
            let select = try connection.statement(
                """
                SELECT DISTINCT lease_owner FROM jobs WHERE state = 'leased'
                UNION SELECT owner FROM batches WHERE owner IS NOT NULL AND step <> 'done'
                """)
            var owners: [String] = []
            while try select.step() { owners.append(select.text(0)) }
            return owners
        }
    }

    public func retryFailed() async throws -> Int {
        defer { signals.notifyAll() }
        return try await database.write { connection in
            // A reduce job still missing parts waits again; the retried chunks deliver them.
            try connection.run(
                """
                UPDATE jobs SET attempts = 0, rate_limited = 0, not_before = 0, passed_by = NULL,
                state = CASE WHEN parts_needed IS NOT NULL
                    AND (SELECT count(*) FROM job_parts WHERE job_id = jobs.id) < parts_needed
                    THEN 'waiting' ELSE 'ready' END
                WHERE state = 'failed'
                """)
            return connection.changes
        }
    }

    public func unitResult(unitKey: String) async throws -> UnitResult? {
        try await unitResults(unitKeys: [unitKey])[unitKey]
    }

    public func unitResults(unitKeys: [String]) async throws -> [String: UnitResult] {
        guard !unitKeys.isEmpty else { return [:] }
        return try await database.perform { connection in
            let select = try connection.statement("SELECT result, body FROM unit_results WHERE unit_key = ?")
            var results: [String: UnitResult] = [:]
            for key in Set(unitKeys) {
                select.reset()
                try select.bind([.text(key)])
                guard try select.step() else { continue }
                results[key] = UnitResult(
                    unitKey: key, result: Data(select.blob(0)), body: select.isNull(1) ? nil : Data(select.blob(1)))
            }
            return results
        }
    }

    public func exportedLineIDs(runID: Int64?) async throws -> [Int64] {
        try await database.perform { connection in
            // The latest done collect job of each unit: a unit's lines differ in their key's suffix only.
            let select = try connection.statement(
                """
                SELECT max(id) FROM jobs WHERE stage = 'collect' AND state = 'done' AND (?1 IS NULL OR run_id = ?1)
                GROUP BY run_id, CASE WHEN instr(key, '!') > 0 THEN substr(key, 1, instr(key, '!') - 1) ELSE key END
                ORDER BY 1
                """)
            try select.bind([runID.map { .integer($0) } ?? .null])
            var ids: [Int64] = []
            while try select.step() { ids.append(select.int(0)) }
            return ids
        }
    }

    public func jobs(ids: [Int64]) async throws -> [Job] {
        try await database.perform { connection in
            let select = try connection.statement(
                "SELECT id, run_id, stage, key, payload, attempts, rate_limited, body FROM jobs WHERE id = ?")
            var jobs: [Job] = []
            for id in ids {
                select.reset()
                try select.bind([.integer(id)])
                guard try select.step(), let job = Self.job(select) else { continue }
                jobs.append(job)
            }
            return jobs
        }
    }

    public func storedUnitKeys() async throws -> [String] {
        try await database.perform { connection in
            let select = try connection.statement("SELECT unit_key FROM unit_results")
            var keys: [String] = []
            while try select.step() { keys.append(select.text(0)) }
            return keys
        }
    }

    /// A job from the columns `id, run_id, stage, key, payload, attempts, rate_limited, body` of the
    /// statement's current row (nil: an unknown stage).
    static func job(_ row: SQLiteStatement) -> Job? {
        guard let stage = Stage(rawValue: row.text(2)) else { return nil }
        return Job(
            id: row.int(0), runID: row.int(1), stage: stage, key: row.text(3), payload: Data(row.blob(4)),
            attempts: Int(row.int(5)), rateLimited: Int(row.int(6)), body: row.isNull(7) ? nil : Data(row.blob(7)))
    }
}
