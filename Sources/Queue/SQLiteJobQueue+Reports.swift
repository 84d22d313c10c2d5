import Foundation
import SluiceCore

/// What the queue tells about a run: spend, run state, the output's committed length, statistics.
extension SQLiteJobQueue {
    // MARK: Spend

    public func spendReport(documents limit: Int) async throws -> SpendReport {
        try await database.perform { connection in
            var report = SpendReport()
            let lines = try connection.statement(
                """
                SELECT deployment, model, sum(calls), sum(prompt_tokens), sum(cached_tokens), sum(completion_tokens),
                sum(reasoning_tokens), sum(cost), sum(unpriced_calls) FROM spend GROUP BY deployment, model
                ORDER BY deployment, model
                """)
            while try lines.step() {
                report.lines.append(
                    .init(
                        deployment: lines.text(0), model: lines.text(1), calls: Int(lines.int(2)),
                        promptTokens: Int(lines.int(3)), cachedTokens: Int(lines.int(4)),
                        completionTokens: Int(lines.int(5)), reasoningTokens: Int(lines.int(6)),
                        cost: lines.double(7), unpricedCalls: Int(lines.int(8))))
            }
            let count = try connection.statement("SELECT count(DISTINCT run_id || '/' || document) FROM spend")
            if try count.step() { report.documents = Int(count.int(0)) }
            guard limit > 0 else { return report }
            let dearest = try connection.statement(
                """
                SELECT document, sum(calls), sum(cost) AS total FROM spend GROUP BY run_id, document
                ORDER BY total DESC, document LIMIT ?
                """)
            try dearest.bind([.integer(Int64(limit))])
            while try dearest.step() {
                report.dearest.append(
                    .init(document: dearest.text(0), calls: Int(dearest.int(1)), cost: dearest.double(2)))
            }
            return report
        }
    }

    // MARK: Run state

    public func setRunState(key: String, value: Data) async throws {
        try await database.write { connection in
            try connection.run(
                "INSERT INTO run_state(key, value, updated) VALUES(?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated = excluded.updated",
                [.text(key), .blob([UInt8](value)), .real(Date().timeIntervalSince1970)])
        }
    }

    public func runState(key: String) async throws -> (value: Data, updated: Double)? {
        try await database.perform { connection in
            let select = try connection.statement("SELECT value, updated FROM run_state WHERE key = ?")
            try select.bind([.text(key)])
            guard try select.step() else { return nil }
            return (Data(select.blob(0)), select.double(1))
        }
    }

    public func updateRunState<T: Sendable>(
        key: String, _ body: @escaping @Sendable (inout Data?, _ now: Double) throws -> T
    ) async throws -> T {
        try await database.write { connection in
            let select = try connection.statement("SELECT value FROM run_state WHERE key = ?")
            try select.bind([.text(key)])
            var value = try select.step() ? Data(select.blob(0)) : nil
            // Processes sharing a SQLite file share its host's clock.
            let now = Date().timeIntervalSince1970
            let result = try body(&value, now)
            if let value {
                try connection.run(
                    "INSERT INTO run_state(key, value, updated) VALUES(?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated = excluded.updated",
                    [.text(key), .blob([UInt8](value)), .real(now)])
            }
            return result
        }
    }

    // MARK: Budget

    public func reserveBudget(jobID: Int64, owner: String, amount: Double, limit: Double) async throws -> Bool {
        reservesBudget.withLock { $0 = true }
        return try await database.write { connection in
            let (spent, reserved) = try Self.budgetUse(connection)
            guard spent + reserved + amount <= limit else { return false }
            try connection.run(
                "INSERT OR REPLACE INTO budget_reservations(job_id, owner, amount) VALUES(?, ?, ?)",
                [.integer(jobID), .text(owner), .real(amount)])
            return true
        }
    }

    public func settleBudget(jobID: Int64, cost: Double) async throws {
        try await database.write { connection in
            try connection.run(
                "UPDATE budget_reservations SET amount = ? WHERE job_id = ?", [.real(cost), .integer(jobID)])
        }
    }

    public func budgetUse() async throws -> (spent: Double, reserved: Double) {
        try await database.perform { connection in try Self.budgetUse(connection) }
    }

    static func budgetUse(_ connection: SQLiteConnection) throws -> (spent: Double, reserved: Double) {
        let select = try connection.statement(
            "SELECT (SELECT coalesce(sum(cost), 0) FROM spend), (SELECT coalesce(sum(amount), 0) FROM budget_reservations)"
        )
        guard try select.step() else { return (0, 0) }
        return (select.double(0), select.double(1))
    }

    // MARK: Workers

    public func heartbeat(owner: String, now: Double) async throws {
        try await database.write { connection in
            try connection.run(
                """
                INSERT INTO workers(owner, started, heartbeat) VALUES(?, ?, ?)
                ON CONFLICT(owner) DO UPDATE SET heartbeat = excluded.heartbeat
                """, [.text(owner), .real(now), .real(now)])
        }
    }

    public func workers() async throws -> [WorkerRecord] {
        try await database.perform { connection in
            let select = try connection.statement(
                "SELECT owner, started, heartbeat FROM workers ORDER BY heartbeat DESC, owner")
            var workers: [WorkerRecord] = []
            while try select.step() {
                workers.append(
                    WorkerRecord(owner: select.text(0), started: select.double(1), heartbeat: select.double(2)))
            }
            return workers
        }
    }

    public func forgetWorker(owner: String) async throws {
        try await database.write { connection in
            try connection.run("DELETE FROM workers WHERE owner = ?", [.text(owner)])
        }
    }

    // MARK: Output

    public func committedOutputLength(path: String) async throws -> Int64? {
        try await database.perform { connection in
            let select = try connection.statement("SELECT committed_length FROM outputs WHERE path = ?")
            try select.bind([.text(path)])
            return try select.step() ? select.int(0) : nil
        }
    }

    public func commitCollected(jobIDs: [Int64], owner: String, path: String, length: Int64, now: Double) async throws {
        try await database.write { connection in
            for id in jobIDs { _ = try Self.finish(connection, id, owner: owner, now: now, dropsReservation: false) }
            try connection.run(
                """
                INSERT INTO outputs(path, committed_length) VALUES(?, ?)
                ON CONFLICT(path) DO UPDATE SET committed_length = excluded.committed_length
                """,
                [.text(path), .integer(length)])
        }
    }

    // MARK: Status

    public func statistics() async throws -> QueueStatistics {
        try await database.perform { connection in
            var statistics = QueueStatistics()
            // Kept by triggers, so status costs the same whatever the size of the queue.
            let counts = try connection.statement("SELECT stage, state, count FROM job_counts WHERE count > 0")
            while try counts.step() {
                statistics.counts[counts.text(0), default: [:]][counts.text(1)] = Int(counts.int(2))
            }
            let failures = try connection.statement(
                "SELECT error_class, state, count(*) FROM jobs WHERE error_class IS NOT NULL AND state IN ('failed', 'ready') GROUP BY error_class, state"
            )
            while try failures.step() {
                if failures.text(1) == "failed" {
                    statistics.failuresByClass[failures.text(0)] = Int(failures.int(2))
                } else {
                    statistics.retryingByClass[failures.text(0)] = Int(failures.int(2))
                }
            }
            let next = try connection.statement("SELECT min(not_before) FROM jobs WHERE state = 'ready'")
            if try next.step(), !next.isNull(0) { statistics.nextRetryAt = next.double(0) }
            let documents = try connection.statement("SELECT status, count(*) FROM documents GROUP BY status")
            while try documents.step() { statistics.documents[documents.text(0)] = Int(documents.int(1)) }
            // A key range per run, on the (run, stage, key) index: only reduce calls are read.
            let reduces = try connection.statement(
                """
                SELECT jobs.state, count(*) FROM runs JOIN jobs ON jobs.run_id = runs.id AND jobs.stage = 'call'
                AND jobs.key >= ? AND jobs.key < ? GROUP BY jobs.state
                """)
            try reduces.bind([.text(Self.reduceCallPrefix), .text(Self.reduceCallPrefix + "\u{10FFFF}")])
            while try reduces.step() { statistics.reduceCalls[reduces.text(0)] = Int(reduces.int(1)) }
            return statistics
        }
    }

    public func hasPendingWork() async throws -> Bool {
        try await database.perform { connection in
            let select = try connection.statement(
                """
                SELECT EXISTS(SELECT 1 FROM jobs WHERE state = 'ready')
                    OR EXISTS(SELECT 1 FROM jobs WHERE state = 'leased')
                    OR EXISTS(SELECT 1 FROM jobs WHERE state = 'batched')
                    OR EXISTS(SELECT 1 FROM batches WHERE step <> 'done')
                """)
            return try select.step() && select.int(0) != 0
        }
    }

    public func failures(limit: Int) async throws -> [FailedJob] {
        try await database.perform { connection in
            let select = try connection.statement(
                """
                SELECT stage, key, error_class, error_message, attempts FROM jobs WHERE state = 'failed'
                ORDER BY id LIMIT ?
                """)
            try select.bind([.integer(Int64(limit))])
            var failed: [FailedJob] = []
            while try select.step() {
                failed.append(
                    FailedJob(
                        stage: Stage(rawValue: select.text(0)) ?? .call, key: select.text(1),
                        errorClass: select.text(2),
                        message: select.text(3), attempts: Int(select.int(4))))
            }
            return failed
        }
    }
}
