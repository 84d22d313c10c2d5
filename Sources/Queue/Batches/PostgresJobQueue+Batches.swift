import Foundation
import PostgresNIO
import SluiceCore

/// The batch lane's records in PostgreSQL: batches (a JSON record beside the columns queries need),
/// their lines, and the jobs they hold.
extension PostgresJobQueue {
    public func recordBatch(_ batch: BatchRecord, lines: [BatchLine], owner: String, quota: Int) async throws
        -> BatchRecording
    {
        try await write("recording batch \(batch.name)") { connection in
            // One recorder per deployment at a time: the quota check and the insert see the same batches.
            try await connection.rows(
                "SELECT pg_advisory_xact_lock(hashtext($1))", [.text("sluice batches " + batch.deployment)],
                logger: logger)
            let inUse = Int(
                try await connection.rows(
                    """
                    SELECT coalesce(sum(input_tokens), 0)::BIGINT FROM batches
                    WHERE deployment = $1 AND step IN ('packed', 'uploaded', 'submitted')
                    """, [.text(batch.deployment)], logger: logger
                ).first?.int(0) ?? 0)
            guard inUse + batch.inputTokens <= quota else { return .quotaFull(used: inUse) }
            let ids = lines.map(\.jobID)
            // Every job must still be this owner's, and stays so: its row is locked until the commit.
            let leased = try await connection.rows(
                "SELECT id FROM jobs WHERE id = ANY($1::BIGINT[]) AND state = 'leased' AND lease_owner = $2 FOR UPDATE",
                [.integers(ids), .text(owner)], logger: logger
            ).count
            guard leased == Set(ids).count else { return .leaseLost }
            try await connection.rows(
                "UPDATE jobs SET state = 'batched', lease_owner = NULL, lease_expires = NULL WHERE id = ANY($1::BIGINT[])",
                [.integers(ids)], logger: logger)
            var recorded = batch
            recorded.owner = owner
            recorded.id =
                try await connection.rows(
                    """
                    INSERT INTO batches(deployment, name, step, owner, input_tokens, record, updated)
                    VALUES($1, $2, $3, $4, $5, '\\x'::BYTEA, $6) RETURNING id
                    """,
                    [
                        .text(batch.deployment), .text(batch.name), .text(batch.step.rawValue), .text(owner),
                        .integer(Int64(batch.inputTokens)), .real(batch.updated),
                    ], logger: logger
                ).first?.int(0) ?? 0
            try await connection.rows(
                """
                INSERT INTO batch_lines(batch_id, custom_id, job_id)
                SELECT $1, * FROM unnest($2::TEXT[], $3::BIGINT[])
                """, [.integer(recorded.id), .texts(lines.map(\.customID)), .integers(ids)], logger: logger)
            try await store(recorded, connection)
            return .recorded(recorded)
        }
    }

    public func updateBatch(_ batch: BatchRecord) async throws {
        try await write("recording batch \(batch.name)") { connection in try await store(batch, connection) }
    }

    public func batches(all: Bool) async throws -> [BatchRecord] {
        try await read("reading batches") { connection in
            try await connection.rows(
                "SELECT record, cancel, owner FROM batches" + (all ? "" : " WHERE step <> 'done'") + " ORDER BY id",
                logger: logger
            ).map {
                try Self.record(try $0.bytes(0), cancel: try $0[1].decode(Bool.self), owner: try $0.optionalText(2))
            }
        }
    }

    public func adoptBatches(owner: String) async throws -> [BatchRecord] {
        try await write("adopting batches") { connection in
            let orphans = try await connection.rows(
                "SELECT record, cancel, owner FROM batches WHERE owner IS NULL AND step <> 'done' ORDER BY id FOR UPDATE SKIP LOCKED",
                logger: logger
            ).map {
                try Self.record(try $0.bytes(0), cancel: try $0[1].decode(Bool.self), owner: try $0.optionalText(2))
            }
            for var batch in orphans {
                batch.owner = owner
                try await store(batch, connection)
            }
            return try await connection.rows(
                "SELECT record, cancel, owner FROM batches WHERE owner = $1 AND step <> 'done' ORDER BY id",
                [.text(owner)],
                logger: logger
            ).map {
                try Self.record(try $0.bytes(0), cancel: try $0[1].decode(Bool.self), owner: try $0.optionalText(2))
            }
        }
    }

    public func requestBatchCancel() async throws -> Int {
        try await write("asking for batches to be cancelled") { connection in
            try await connection.rows(
                "UPDATE batches SET cancel = TRUE WHERE step IN ('packed', 'uploaded', 'submitted') RETURNING id",
                logger: logger
            ).count
        }
    }

    public func batchLines(batchID: Int64) async throws -> [BatchLine] {
        try await read("reading a batch's lines") { connection in
            try await connection.rows(
                "SELECT custom_id, job_id FROM batch_lines WHERE batch_id = $1 ORDER BY job_id", [.integer(batchID)],
                logger: logger
            ).map { BatchLine(customID: try $0.text(0), jobID: try $0.int(1)) }
        }
    }

    public func claimBatched(batchID: Int64, owner: String, leaseSeconds: Double, now: Double) async throws -> [Job] {
        try await write("claiming a batch's jobs") { connection in
            try await connection.rows(
                """
                UPDATE jobs SET state = 'leased', lease_owner = $2, lease_expires = $3, updated = $4
                WHERE id IN (SELECT job_id FROM batch_lines WHERE batch_id = $1) AND state = 'batched'
                AND NOT EXISTS(SELECT 1 FROM batch_lines later WHERE later.job_id = jobs.id AND later.batch_id > $1)
                RETURNING id, run_id, stage, key, payload, attempts, rate_limited, body
                """, [.integer(batchID), .text(owner), .real(now + leaseSeconds), .real(now)], logger: logger
            ).compactMap(Self.job).sorted { $0.id < $1.id }
        }
    }

    private func store(_ batch: BatchRecord, _ connection: PostgresConnection) async throws {
        try await connection.rows(
            "UPDATE batches SET step = $1, owner = $2, input_tokens = $3, record = $4, updated = $5 WHERE id = $6",
            [
                .text(batch.step.rawValue), batch.owner.map { .text($0) } ?? .null, .integer(Int64(batch.inputTokens)),
                .bytes(try JSONEncoder.sluice.encode(batch)), .real(batch.updated), .integer(batch.id),
            ], logger: logger)
    }

    /// A batch's record with the columns that change beside it: a cancel request, and its owner
    /// (reclaiming a stopped worker's leases frees its batches in the column only).
    private static func record(_ bytes: Data, cancel: Bool, owner: String?) throws -> BatchRecord {
        do {
            var record = try JSONDecoder().decode(BatchRecord.self, from: bytes)
            record.cancelRequested = record.cancelRequested || cancel
            record.owner = owner
            return record
        } catch {
            throw SluiceError(
                .database, "the queue holds a batch record this sluice cannot read: \(error)", cause: error)
        }
    }
}
