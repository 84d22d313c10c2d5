import Foundation
import SluiceCore

/// The batch lane's records in SQLite: batches (a JSON record beside the columns queries need),
/// their lines, and the jobs they hold.
extension SQLiteJobQueue {
    public func recordBatch(_ batch: BatchRecord, lines: [BatchLine], owner: String, quota: Int) async throws
        -> BatchRecording
    {
        try await database.write { connection in
            let used = try connection.statement(
                "SELECT coalesce(sum(input_tokens), 0) FROM batches WHERE deployment = ? AND step IN ('packed', 'uploaded', 'submitted')"
            )
            try used.bind([.text(batch.deployment)])
            let inUse = try used.step() ? Int(used.int(0)) : 0
            guard inUse + batch.inputTokens <= quota else { return .quotaFull(used: inUse) }
            // Every job must still be this owner's (the transaction holds the write lock: it stays so).
            let leased = try connection.statement(
                "SELECT 1 FROM jobs WHERE id = ? AND state = 'leased' AND lease_owner = ?")
            for item in lines {
                leased.reset()
                try leased.bind([.integer(item.jobID), .text(owner)])
                guard try leased.step() else { return .leaseLost }
            }
            var recorded = batch
            recorded.owner = owner
            try connection.run(
                "INSERT INTO batches(deployment, name, step, owner, input_tokens, record, updated) VALUES(?, ?, ?, ?, ?, x'', ?)",
                [
                    .text(batch.deployment), .text(batch.name), .text(batch.step.rawValue), .text(owner),
                    .integer(Int64(batch.inputTokens)), .real(batch.updated),
                ])
            recorded.id = connection.lastInsertRowID
            let hold = try connection.statement(
                "UPDATE jobs SET state = 'batched', lease_owner = NULL, lease_expires = NULL WHERE id = ?")
            let line = try connection.statement("INSERT INTO batch_lines(batch_id, custom_id, job_id) VALUES(?, ?, ?)")
            for item in lines {
                hold.reset()
                try hold.bind([.integer(item.jobID)])
                _ = try hold.step()
                line.reset()
                try line.bind([.integer(recorded.id), .text(item.customID), .integer(item.jobID)])
                _ = try line.step()
            }
            try Self.store(recorded, connection)
            return .recorded(recorded)
        }
    }

    public func updateBatch(_ batch: BatchRecord) async throws {
        try await database.write { connection in try Self.store(batch, connection) }
    }

    public func batches(all: Bool) async throws -> [BatchRecord] {
        try await database.perform { connection in
            let select = try connection.statement(
                "SELECT record, cancel, owner FROM batches" + (all ? "" : " WHERE step <> 'done'") + " ORDER BY id")
            var records: [BatchRecord] = []
            while try select.step() {
                records.append(
                    try Self.record(
                        select.blob(0), cancel: select.int(1) != 0, owner: select.isNull(2) ? nil : select.text(2)))
            }
            return records
        }
    }

    public func adoptBatches(owner: String) async throws -> [BatchRecord] {
        try await database.write { connection in
            let orphans = try connection.statement(
                "SELECT record, cancel, owner FROM batches WHERE owner IS NULL AND step <> 'done' ORDER BY id")
            var adopted: [BatchRecord] = []
            while try orphans.step() {
                adopted.append(
                    try Self.record(
                        orphans.blob(0), cancel: orphans.int(1) != 0, owner: orphans.isNull(2) ? nil : orphans.text(2)))
            }
            for var batch in adopted {
                batch.owner = owner
                try Self.store(batch, connection)
            }
            let select = try connection.statement(
                "SELECT record, cancel, owner FROM batches WHERE owner = ? AND step <> 'done' ORDER BY id")
            try select.bind([.text(owner)])
            var records: [BatchRecord] = []
            while try select.step() {
                records.append(
                    try Self.record(
                        select.blob(0), cancel: select.int(1) != 0, owner: select.isNull(2) ? nil : select.text(2)))
            }
            return records
        }
    }

    public func requestBatchCancel() async throws -> Int {
        try await database.write { connection in
            try connection.run("UPDATE batches SET cancel = 1 WHERE step IN ('packed', 'uploaded', 'submitted')")
            return connection.changes
        }
    }

    public func batchLines(batchID: Int64) async throws -> [BatchLine] {
        try await database.perform { connection in
            let select = try connection.statement(
                "SELECT custom_id, job_id FROM batch_lines WHERE batch_id = ? ORDER BY job_id")
            try select.bind([.integer(batchID)])
            var lines: [BatchLine] = []
            while try select.step() { lines.append(BatchLine(customID: select.text(0), jobID: select.int(1))) }
            return lines
        }
    }

    public func claimBatched(batchID: Int64, owner: String, leaseSeconds: Double, now: Double) async throws -> [Job] {
        try await database.write { connection in
            let claim = try connection.statement(
                """
                UPDATE jobs SET state = 'leased', lease_owner = ?, lease_expires = ?, updated = ?
                WHERE id IN (SELECT job_id FROM batch_lines WHERE batch_id = ?) AND state = 'batched'
                AND NOT EXISTS(SELECT 1 FROM batch_lines later WHERE later.job_id = jobs.id AND later.batch_id > ?)
                RETURNING id, run_id, stage, key, payload, attempts, rate_limited, body
                """)
            try claim.bind([.text(owner), .real(now + leaseSeconds), .real(now), .integer(batchID), .integer(batchID)])
            var jobs: [Job] = []
            while try claim.step() {
                if let job = Self.job(claim) { jobs.append(job) }
            }
            return jobs.sorted { $0.id < $1.id }
        }
    }

    /// Writes a batch's record and the columns beside it.
    private static func store(_ batch: BatchRecord, _ connection: SQLiteConnection) throws {
        try connection.run(
            "UPDATE batches SET step = ?, owner = ?, input_tokens = ?, record = ?, updated = ? WHERE id = ?",
            [
                .text(batch.step.rawValue), batch.owner.map { .text($0) } ?? .null, .integer(Int64(batch.inputTokens)),
                .blob(Array(try JSONEncoder.sluice.encode(batch))), .real(batch.updated), .integer(batch.id),
            ])
    }

    /// A batch's record with the columns that change beside it: a cancel request, and its owner
    /// (reclaiming a stopped worker's leases frees its batches in the column only).
    private static func record(_ bytes: [UInt8], cancel: Bool, owner: String?) throws -> BatchRecord {
        do {
            var record = try JSONDecoder().decode(BatchRecord.self, from: Data(bytes))
            record.cancelRequested = record.cancelRequested || cancel
            record.owner = owner
            return record
        } catch {
            throw SluiceError(
                .database, "the queue holds a batch record this sluice cannot read: \(error)", cause: error)
        }
    }
}
