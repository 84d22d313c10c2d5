import Foundation
import PostgresNIO
import SluiceCore

/// What the PostgreSQL queue tells about a run: spend, run state, the output's committed length, statistics.
extension PostgresJobQueue {
    public func spendReport(documents limit: Int) async throws -> SpendReport {
        try await read("reading the spend") { connection in
            var report = SpendReport()
            for row in try await connection.rows(
                """
                SELECT deployment, model, sum(calls)::BIGINT, sum(prompt_tokens)::BIGINT, sum(cached_tokens)::BIGINT,
                sum(completion_tokens)::BIGINT, sum(reasoning_tokens)::BIGINT, sum(cost), sum(unpriced_calls)::BIGINT
                FROM spend GROUP BY deployment, model ORDER BY deployment, model
                """, logger: logger)
            {
                report.lines.append(
                    .init(
                        deployment: try row.text(0), model: try row.text(1), calls: Int(try row.int(2)),
                        promptTokens: Int(try row.int(3)), cachedTokens: Int(try row.int(4)),
                        completionTokens: Int(try row.int(5)), reasoningTokens: Int(try row.int(6)),
                        cost: try row.double(7), unpricedCalls: Int(try row.int(8))))
            }
            report.documents = Int(
                try await connection.rows("SELECT count(DISTINCT (run_id, document)) FROM spend", logger: logger)
                    .first?.int(0) ?? 0)
            guard limit > 0 else { return report }
            for row in try await connection.rows(
                """
                SELECT document, sum(calls)::BIGINT, sum(cost) AS total FROM spend GROUP BY run_id, document
                ORDER BY total DESC, document LIMIT $1
                """, [.integer(Int64(limit))], logger: logger)
            {
                report.dearest.append(
                    .init(document: try row.text(0), calls: Int(try row.int(1)), cost: try row.double(2)))
            }
            return report
        }
    }

    public func setRunState(key: String, value: Data) async throws {
        try await write("storing run state") { connection in
            try await connection.rows(
                """
                INSERT INTO run_state(key, value, updated) VALUES($1, $2, $3)
                ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated = excluded.updated
                """,
                [.text(key), .bytes(value), .real(Date().timeIntervalSince1970)], logger: logger)
        }
    }

    public func runState(key: String) async throws -> (value: Data, updated: Double)? {
        try await read("reading run state") { connection in
            guard
                let row = try await connection.rows(
                    "SELECT value, updated FROM run_state WHERE key = $1", [.text(key)], logger: logger
                ).first
            else { return nil }
            return (try row.bytes(0), try row.double(1))
        }
    }

    public func updateRunState<T: Sendable>(
        key: String, _ body: @escaping @Sendable (inout Data?, _ now: Double) throws -> T
    ) async throws -> T {
        try await write("updating run state \(key)") { connection in
            // The row is made once, then locked: the next worker's update waits for this one's commit.
            let lock =
                "SELECT value, extract(epoch FROM clock_timestamp())::DOUBLE PRECISION FROM run_state WHERE key = $1 FOR UPDATE"
            var rows = try await connection.rows(lock, [.text(key)], logger: logger)
            if rows.isEmpty {
                try await connection.rows(
                    "INSERT INTO run_state(key, value, updated) VALUES($1, ''::BYTEA, 0) ON CONFLICT(key) DO NOTHING",
                    [.text(key)], logger: logger)
                rows = try await connection.rows(lock, [.text(key)], logger: logger)
            }
            guard let row = rows.first else { throw SluiceError(.database, "the run state \(key) vanished") }
            let stored = try row.bytes(0)
            let now = try row.double(1)
            var value: Data? = stored.isEmpty ? nil : stored
            let result = try body(&value, now)
            try await connection.rows(
                "UPDATE run_state SET value = $2, updated = $3 WHERE key = $1",
                [.text(key), .bytes(value ?? Data()), .real(now)], logger: logger)
            return result
        }
    }

    public func reserveBudget(jobID: Int64, owner: String, amount: Double, limit: Double) async throws -> Bool {
        try await write("reserving budget") { connection in
            // One reservation at a time across the workers: two cannot both take the last of the budget.
            try await connection.rows(
                "SELECT pg_advisory_xact_lock($1)", [.integer(PostgresMigrations.budgetLockKey)], logger: logger)
            let (spent, reserved) = try await budgetUse(connection)
            guard spent + reserved + amount <= limit else { return false }
            try await connection.rows(
                """
                INSERT INTO budget_reservations(job_id, owner, amount) VALUES($1, $2, $3)
                ON CONFLICT(job_id) DO UPDATE SET owner = excluded.owner, amount = excluded.amount
                """, [.integer(jobID), .text(owner), .real(amount)], logger: logger)
            return true
        }
    }

    public func settleBudget(jobID: Int64, cost: Double) async throws {
        try await write("settling budget") { connection in
            try await connection.rows(
                "UPDATE budget_reservations SET amount = $1 WHERE job_id = $2", [.real(cost), .integer(jobID)],
                logger: logger)
        }
    }

    public func budgetUse() async throws -> (spent: Double, reserved: Double) {
        try await read("reading the budget") { connection in try await budgetUse(connection) }
    }

    func budgetUse(_ connection: PostgresConnection) async throws -> (spent: Double, reserved: Double) {
        guard
            let row = try await connection.rows(
                """
                SELECT (SELECT coalesce(sum(cost), 0) FROM spend)::DOUBLE PRECISION,
                (SELECT coalesce(sum(amount), 0) FROM budget_reservations)::DOUBLE PRECISION
                """, logger: logger
            ).first
        else { return (0, 0) }
        return (try row.double(0), try row.double(1))
    }

    public func heartbeat(owner: String, now: Double) async throws {
        try await write("recording a heartbeat") { connection in
            try await connection.rows(
                """
                INSERT INTO workers(owner, started, heartbeat) VALUES($1, $2, $2)
                ON CONFLICT(owner) DO UPDATE SET heartbeat = excluded.heartbeat
                """, [.text(owner), .real(now)], logger: logger)
        }
    }

    public func workers() async throws -> [WorkerRecord] {
        try await read("reading the workers") { connection in
            try await connection.rows(
                "SELECT owner, started, heartbeat FROM workers ORDER BY heartbeat DESC, owner", logger: logger
            ).map { WorkerRecord(owner: try $0.text(0), started: try $0.double(1), heartbeat: try $0.double(2)) }
        }
    }

    public func forgetWorker(owner: String) async throws {
        try await write("forgetting a worker") { connection in
            try await connection.rows("DELETE FROM workers WHERE owner = $1", [.text(owner)], logger: logger)
        }
    }

    public func committedOutputLength(path: String) async throws -> Int64? {
        try await read("reading the output's length") { connection in
            try await connection.rows(
                "SELECT committed_length FROM outputs WHERE path = $1", [.text(path)], logger: logger
            ).first?.int(0)
        }
    }

    public func commitCollected(jobIDs: [Int64], owner: String, path: String, length: Int64, now: Double) async throws {
        try await write("committing written lines") { connection in
            _ = try await finish(connection, jobIDs, owner: owner, now: now)
            try await connection.rows(
                """
                INSERT INTO outputs(path, committed_length) VALUES($1, $2)
                ON CONFLICT(path) DO UPDATE SET committed_length = excluded.committed_length
                """,
                [.text(path), .integer(length)], logger: logger)
        }
    }

    public func statistics() async throws -> QueueStatistics {
        try await read("reading the queue's counts") { connection in
            var statistics = QueueStatistics()
            for row in try await connection.rows(
                "SELECT stage, state, count(*) FROM jobs GROUP BY stage, state", logger: logger)
            {
                statistics.counts[try row.text(0), default: [:]][try row.text(1)] = Int(try row.int(2))
            }
            for row in try await connection.rows(
                """
                SELECT error_class, state, count(*) FROM jobs WHERE error_class IS NOT NULL
                AND state IN ('failed', 'ready') GROUP BY error_class, state
                """, logger: logger)
            {
                if try row.text(1) == "failed" {
                    statistics.failuresByClass[try row.text(0)] = Int(try row.int(2))
                } else {
                    statistics.retryingByClass[try row.text(0)] = Int(try row.int(2))
                }
            }
            statistics.nextRetryAt = try await connection.rows(
                "SELECT min(not_before) FROM jobs WHERE state = 'ready'", logger: logger
            ).first?.optionalDouble(0)
            for row in try await connection.rows(
                "SELECT status, count(*) FROM documents GROUP BY status", logger: logger)
            {
                statistics.documents[try row.text(0)] = Int(try row.int(1))
            }
            for row in try await connection.rows(
                """
                SELECT state, count(*) FROM jobs WHERE stage = 'call' AND key >= $1 AND key < $2 GROUP BY state
                """, [.text(Self.reduceCallPrefix), .text(Self.reduceCallPrefix + "\u{10FFFF}")], logger: logger)
            {
                statistics.reduceCalls[try row.text(0)] = Int(try row.int(1))
            }
            return statistics
        }
    }

    /// Keys of reduce calls (stage call) start with this.
    static var reduceCallPrefix: String { JobKey.reduceCallPrefix }

    public func hasPendingWork() async throws -> Bool {
        try await read("looking for pending work") { connection in
            try await connection.rows(
                """
                SELECT EXISTS(SELECT 1 FROM jobs WHERE state = 'ready')
                    OR EXISTS(SELECT 1 FROM jobs WHERE state = 'leased')
                    OR EXISTS(SELECT 1 FROM jobs WHERE state = 'batched')
                    OR EXISTS(SELECT 1 FROM batches WHERE step <> 'done')
                """, logger: logger
            ).first?[0].decode(Bool.self) ?? false
        }
    }

    public func failures(limit: Int) async throws -> [FailedJob] {
        try await read("reading failures") { connection in
            try await connection.rows(
                """
                SELECT stage, key, error_class, error_message, attempts FROM jobs WHERE state = 'failed'
                ORDER BY id LIMIT $1
                """, [.integer(Int64(limit))], logger: logger
            ).map { row in
                FailedJob(
                    stage: Stage(rawValue: try row.text(0)) ?? .call, key: try row.text(1),
                    errorClass: try row.optionalText(2) ?? "", message: try row.optionalText(3) ?? "",
                    attempts: Int(try row[4].decode(Int32.self)))
            }
        }
    }
}
