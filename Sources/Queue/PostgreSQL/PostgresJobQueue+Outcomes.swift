import Foundation
import NIOCore
import PostgresNIO
import SluiceCore

/// How jobs end on PostgreSQL: completions with their successors, failures, releases, reclaimed leases.
extension PostgresJobQueue {
    public func complete(_ completions: [JobCompletion], owner: String, now: Double) async throws {
        guard !completions.isEmpty else { return }
        var stages = Set(completions.lazy.flatMap(\.next).map(\.stage))
        if completions.contains(where: { !$0.parts.isEmpty }) { stages.insert(.reduce) }
        defer { signals.notify(stages) }
        // A batch is a few statements, not a few per job: round trips are what a server queue costs.
        try await write("committing finished jobs") { connection in
            let finished = try await finish(connection, completions.map(\.jobID), owner: owner, now: now)
            let done = completions.filter { finished.contains($0.jobID) }
            try await insertJobs(connection, done.flatMap(\.next), now: now)
            try await storeResults(connection, done.compactMap(\.unitResult), now: now)
            try await record(connection, done.compactMap(\.spend))
            for completion in done {
                for part in completion.parts { try await deliver(connection, part, now: now) }
                if completion.consumesParts {
                    try await connection.rows(
                        "DELETE FROM job_parts WHERE job_id = $1", [.integer(completion.jobID)], logger: logger)
                }
            }
        }
        await announce(stages)
    }

    /// Stores a part for a waiting job (the first delivery of a part wins) and makes the job ready
    /// when its last part is in. The waiting job's row is locked first, so two workers delivering
    /// its last parts at once cannot both leave it waiting.
    func deliver(_ connection: PostgresConnection, _ part: JobPart, now: Double) async throws {
        guard
            let row = try await connection.rows(
                "SELECT id, state, parts_needed FROM jobs WHERE run_id = $1 AND stage = 'reduce' AND key = $2 FOR UPDATE",
                [.integer(part.runID), .text(part.key)], logger: logger
            ).first
        else { return }
        let id = try row.int(0)
        let state = try row.text(1)
        let needed = try row[2].decode(Int32?.self) ?? 0
        try await connection.rows(
            "INSERT INTO job_parts(job_id, part, payload) VALUES($1, $2, $3) ON CONFLICT DO NOTHING",
            [.integer(id), .integer(Int64(part.part)), .bytes(part.payload)], logger: logger)
        guard state == "waiting" else { return }
        let count =
            try await connection.rows(
                "SELECT count(*) FROM job_parts WHERE job_id = $1", [.integer(id)], logger: logger
            ).first?.int(0) ?? 0
        if count >= Int64(needed) {
            try await connection.rows(
                "UPDATE jobs SET state = 'ready', not_before = 0, updated = $1 WHERE id = $2 AND state = 'waiting'",
                [.real(now), .integer(id)], logger: logger)
        }
    }

    /// Stores finished calls' results by unit key (the last of a key in the batch wins).
    func storeResults(_ connection: PostgresConnection, _ units: [UnitResult], now: Double) async throws {
        guard !units.isEmpty else { return }
        var latest: [String: UnitResult] = [:]
        for unit in units { latest[unit.unitKey] = unit }
        let rows = Array(latest.values)
        try await connection.rows(
            """
            INSERT INTO unit_results(unit_key, result, body, created)
            SELECT key, result, CASE WHEN has_body THEN body END, $5
            FROM unnest($1::TEXT[], $2::BYTEA[], $3::BOOLEAN[], $4::BYTEA[]) AS given(key, result, has_body, body)
            ON CONFLICT(unit_key) DO UPDATE SET result = excluded.result, body = excluded.body, created = excluded.created
            """,
            [
                .texts(rows.map(\.unitKey)), .byteArrays(rows.map { ByteBuffer(bytes: $0.result) }),
                .booleans(rows.map { $0.body != nil }), .byteArrays(rows.map { ByteBuffer(bytes: $0.body ?? Data()) }),
                .real(now),
            ], logger: logger)
    }

    /// Adds calls' usage and cost to the spend record (summed per document, deployment and model first).
    func record(_ connection: PostgresConnection, _ spends: [Spend]) async throws {
        var totals: [String: Spend] = [:]
        for spend in spends {
            // Priced and unpriced calls are added apart, as one row each would be.
            let key =
                "\(spend.runID)\u{0}\(spend.document)\u{0}\(spend.deployment)\u{0}\(spend.model)\u{0}\(spend.cost == nil)"
            guard var total = totals[key] else {
                totals[key] = spend
                continue
            }
            total.calls += spend.calls
            total.promptTokens += spend.promptTokens
            total.cachedTokens += spend.cachedTokens
            total.completionTokens += spend.completionTokens
            total.reasoningTokens += spend.reasoningTokens
            total.cost = total.cost.map { $0 + (spend.cost ?? 0) }
            totals[key] = total
        }
        for spend in totals.values { try await record(connection, spend) }
    }

    /// Adds a call's usage and cost to the spend record.
    func record(_ connection: PostgresConnection, _ spend: Spend) async throws {
        try await connection.rows(
            """
            INSERT INTO spend(run_id, document, deployment, model, calls, prompt_tokens, cached_tokens,
                completion_tokens, reasoning_tokens, cost, unpriced_calls) VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
            ON CONFLICT(run_id, document, deployment, model) DO UPDATE SET calls = spend.calls + excluded.calls,
                prompt_tokens = spend.prompt_tokens + excluded.prompt_tokens,
                cached_tokens = spend.cached_tokens + excluded.cached_tokens,
                completion_tokens = spend.completion_tokens + excluded.completion_tokens,
                reasoning_tokens = spend.reasoning_tokens + excluded.reasoning_tokens,
                cost = spend.cost + excluded.cost, unpriced_calls = spend.unpriced_calls + excluded.unpriced_calls
            """,
            [
                .integer(spend.runID), .text(spend.document), .text(spend.deployment), .text(spend.model),
                .integer(Int64(spend.calls)), .integer(Int64(spend.promptTokens)),
                .integer(Int64(spend.cachedTokens)), .integer(Int64(spend.completionTokens)),
                .integer(Int64(spend.reasoningTokens)), .real(spend.cost ?? 0),
                .integer(spend.cost == nil ? Int64(spend.calls) : 0),
            ], logger: logger)
    }

    public func fail(_ failures: [JobFailure], owner: String, now: Double) async throws {
        guard !failures.isEmpty else { return }
        let retries = try await write("recording failed attempts") { connection in
            var retries: [Stage: Double] = [:]
            for failure in failures {
                try await connection.rows(
                    "DELETE FROM budget_reservations WHERE job_id = $1", [.integer(failure.jobID)], logger: logger)
                let rows = try await connection.rows(
                    """
                    UPDATE jobs SET state = $1, attempts = attempts + $2, rate_limited = rate_limited + $3,
                    error_class = $4, error_message = $5, not_before = $6, lease_owner = NULL, lease_expires = NULL,
                    updated = $7 WHERE id = $8 AND state = 'leased' AND lease_owner = $9 RETURNING stage
                    """,
                    [
                        .text(failure.retryAt == nil ? "failed" : "ready"),
                        .integer(failure.countsAsAttempt ? 1 : 0),
                        .integer(failure.errorClass == .rateLimited ? 1 : 0), .text(failure.errorClass.rawValue),
                        .text(failure.message), .real(failure.retryAt ?? now), .real(now), .integer(failure.jobID),
                        .text(owner),
                    ], logger: logger)
                guard let row = rows.first else { continue }
                if let retryAt = failure.retryAt, let stage = Stage(rawValue: try row.text(0)) {
                    retries[stage] = min(retries[stage] ?? retryAt, retryAt)
                }
                try await insertJobs(connection, failure.next, now: now)
                if let spend = failure.spend { try await record(connection, spend) }
                for abandon in failure.abandons where failure.retryAt == nil {
                    try await connection.rows(
                        """
                        UPDATE jobs SET state = 'failed', error_class = 'incomplete', error_message = $1, updated = $2
                        WHERE run_id = $3 AND stage = 'reduce' AND key = $4 AND state = 'waiting'
                        """,
                        [.text(abandon.message), .real(now), .integer(abandon.runID), .text(abandon.key)],
                        logger: logger)
                }
            }
            return retries
        }
        let due = retries.filter { $0.value <= now }.map(\.key)
        let ready = Set(failures.lazy.flatMap(\.next).map(\.stage)).union(due)
        signals.notify(ready, retryAt: retries.filter { $0.value > now })
        await announce(ready)
    }

    public func release(jobIDs: [Int64], owner: String) async throws {
        guard !jobIDs.isEmpty else { return }
        try await write("releasing jobs") { connection in
            for id in jobIDs {
                try await connection.rows(
                    """
                    UPDATE jobs SET state = 'ready', lease_owner = NULL, lease_expires = NULL
                    WHERE id = $1 AND state = 'leased' AND lease_owner = $2
                    """,
                    [.integer(id), .text(owner)], logger: logger)
                try await connection.rows(
                    "DELETE FROM budget_reservations WHERE job_id = $1 AND owner = $2", [.integer(id), .text(owner)],
                    logger: logger)
            }
        }
        signals.notifyAll()
        await announce(Stage.allCases)
    }

    public func passOn(_ failures: [JobFailure], owner: String, liveSince: Double, now: Double) async throws {
        guard !failures.isEmpty else { return }
        try await write("passing jobs on to other hosts") { connection in
            let live = try await connection.rows(
                "SELECT owner FROM workers WHERE heartbeat >= $1", [.real(liveSince)], logger: logger
            ).map { try $0.text(0) }
            for failure in failures {
                guard
                    let row = try await connection.rows(
                        "SELECT passed_by FROM jobs WHERE id = $1 AND state = 'leased' AND lease_owner = $2 FOR UPDATE",
                        [.integer(failure.jobID), .text(owner)], logger: logger
                    ).first
                else { continue }
                let (hosts, message) = PassedHosts.outcome(
                    passed: try row.optionalText(0), owner: owner, live: live + [owner], failure: failure)
                try await connection.rows(
                    """
                    UPDATE jobs SET state = $1, passed_by = $2, error_class = $3, error_message = $4,
                    attempts = attempts + $5, lease_owner = NULL, lease_expires = NULL, updated = $6 WHERE id = $7
                    """,
                    [
                        .text(message == nil ? "ready" : "failed"), .text(hosts),
                        message == nil ? .null : .text(failure.errorClass.rawValue), message.map { .text($0) } ?? .null,
                        .integer(message == nil ? 0 : 1), .real(now), .integer(failure.jobID),
                    ], logger: logger)
            }
        }
        signals.notifyAll()
        await announce(Stage.allCases)
    }

    public func reclaimLeases(owners: [String], expiredBefore: Double) async throws -> Int {
        let count = try await write("reclaiming leases") { connection in
            var reclaimed = 0
            for owner in owners {
                reclaimed += try await connection.rows(
                    """
                    UPDATE jobs SET state = \(BatchSQL.reclaimedState), lease_owner = NULL, lease_expires = NULL
                    WHERE state = 'leased' AND lease_owner = $1 RETURNING id
                    """,
                    [.text(owner)], logger: logger
                ).count
                try await connection.rows(
                    "DELETE FROM budget_reservations WHERE owner = $1", [.text(owner)], logger: logger)
                // Its batches go on: another worker adopts them.
                try await connection.rows(
                    "UPDATE batches SET owner = NULL WHERE owner = $1", [.text(owner)], logger: logger)
            }
            reclaimed += try await connection.rows(
                """
                UPDATE jobs SET state = \(BatchSQL.reclaimedState), lease_owner = NULL, lease_expires = NULL
                WHERE state = 'leased' AND lease_expires < $1 RETURNING id
                """,
                [.real(expiredBefore)], logger: logger
            ).count
            return reclaimed
        }
        if count > 0 {
            signals.notifyAll()
            await announce(Stage.allCases)
        }
        return count
    }

    public func leaseOwners() async throws -> [String] {
        try await read("reading lease owners") { connection in
            try await connection.rows(
                """
                SELECT DISTINCT lease_owner FROM jobs WHERE state = 'leased'
                UNION SELECT owner FROM batches WHERE owner IS NOT NULL AND step <> 'done'
                """, logger: logger
            ).map { try $0.text(0) }
        }
    }

    public func retryFailed() async throws -> Int {
        defer { signals.notifyAll() }
        let count = try await write("putting failures back") { connection in
            try await connection.rows(
                """
                UPDATE jobs SET attempts = 0, rate_limited = 0, not_before = 0, passed_by = NULL,
                state = CASE WHEN parts_needed IS NOT NULL
                    AND (SELECT count(*) FROM job_parts WHERE job_id = jobs.id) < parts_needed
                    THEN 'waiting' ELSE 'ready' END
                WHERE state = 'failed' RETURNING id
                """, logger: logger
            ).count
        }
        if count > 0 { await announce(Stage.allCases) }
        return count
    }

    public func exportedLineIDs(runID: Int64?) async throws -> [Int64] {
        try await read("finding the lines to export") { connection in
            try await connection.rows(
                """
                SELECT max(id) FROM jobs WHERE stage = 'collect' AND state = 'done'
                AND ($1::BIGINT IS NULL OR run_id = $1) GROUP BY run_id, split_part(key, '!', 1) ORDER BY 1
                """, [runID.map { .integer($0) } ?? .null], logger: logger
            ).map { try $0.int(0) }
        }
    }

    public func jobs(ids: [Int64]) async throws -> [Job] {
        guard !ids.isEmpty else { return [] }
        // One statement for the batch (the export's), not one round trip per job.
        return try await read("reading jobs") { connection in
            try await connection.rows(
                """
                SELECT id, run_id, stage, key, payload, attempts, rate_limited, body FROM jobs
                WHERE id = ANY($1::BIGINT[]) ORDER BY id
                """, [.integers(ids)], logger: logger
            ).compactMap(Self.job)
        }
    }

    public func storedUnitKeys() async throws -> [String] {
        try await read("reading stored results") { connection in
            try await connection.rows("SELECT unit_key FROM unit_results", logger: logger).map { try $0.text(0) }
        }
    }

    public func unitResult(unitKey: String) async throws -> UnitResult? {
        try await unitResults(unitKeys: [unitKey])[unitKey]
    }

    public func unitResults(unitKeys: [String]) async throws -> [String: UnitResult] {
        guard !unitKeys.isEmpty else { return [:] }
        // The collector's batch in one statement, not one round trip per line.
        return try await read("reading stored results") { connection in
            var results: [String: UnitResult] = [:]
            for row in try await connection.rows(
                "SELECT unit_key, result, body FROM unit_results WHERE unit_key = ANY($1::TEXT[])",
                [.texts(Array(Set(unitKeys)))], logger: logger)
            {
                let key = try row.text(0)
                results[key] = UnitResult(unitKey: key, result: try row.bytes(1), body: try row.optionalBytes(2))
            }
            return results
        }
    }

    /// A job from the columns `id, run_id, stage, key, payload, attempts, rate_limited, body` (nil: an
    /// unknown stage).
    static func job(_ row: PostgresRandomAccessRow) throws -> Job? {
        guard let stage = Stage(rawValue: try row.text(2)) else { return nil }
        return Job(
            id: try row.int(0), runID: try row.int(1), stage: stage, key: try row.text(3),
            payload: try row.bytes(4), attempts: Int(try row[5].decode(Int32.self)),
            rateLimited: Int(try row[6].decode(Int32.self)), body: try row.optionalBytes(7))
    }
}
