import Foundation
import Queue
import SluiceCore
import SluiceTesting
import Testing

/// Databases made by earlier Sluice releases open, are brought to the current schema, and their
/// unfinished work goes on.
@Suite struct MigrationTests {
    let fixture: QueueFixture
    var directory: TemporaryDirectory { fixture.directory }

    init() async throws { fixture = try await QueueFixture() }

    /// The jobs table as the first releases made it (before versions were recorded).
    static func legacyJobsTable(partsNeeded: Bool) -> String {
        """
        CREATE TABLE jobs(
            id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL, stage TEXT NOT NULL, key TEXT NOT NULL,
            state TEXT NOT NULL, payload BLOB NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
            rate_limited INTEGER NOT NULL DEFAULT 0, error_class TEXT, error_message TEXT,
            not_before REAL NOT NULL DEFAULT 0, lease_owner TEXT, lease_expires REAL,
            created REAL NOT NULL, updated REAL NOT NULL,\(partsNeeded ? " parts_needed INTEGER," : "")
            UNIQUE(run_id, stage, key))
        """
    }

    @Test func aDatabaseFromBeforeReduceJobsOpensAndWorks() async throws {
        let old = directory.file("old.db")
        try SQLiteJobQueue.execute(Self.legacyJobsTable(partsNeeded: false), inDatabaseAt: old)
        let migrated = try SQLiteJobQueue(path: old)
        let run = try await migrated.run(root: "/r", pipeline: fixture.run.pipeline, pipelineHash: "h")
        try await migrated.enqueue([NewJob(runID: run.id, stage: .reduce, key: "r", payload: Data("{}".utf8), parts: 1)]
        )
        #expect(try await migrated.statistics().count(.reduce, .waiting) == 1)
    }

    @Test func anUnversionedDatabaseWithJobsGetsTheirCountsAndANewerOneIsRefused() async throws {
        let old = directory.file("counts.db")
        // A database of the releases before job counts: jobs, but no job_counts table and no version.
        try SQLiteJobQueue.execute(
            Self.legacyJobsTable(partsNeeded: true) + """
                ;
                INSERT INTO jobs(run_id, stage, key, state, payload, created, updated) VALUES
                    (1, 'call', 'a', 'ready', x'7b7d', 0, 0), (1, 'call', 'b', 'ready', x'7b7d', 0, 0),
                    (1, 'call', 'c', 'done', x'7b7d', 0, 0), (1, 'ingest', 'd', 'failed', x'7b7d', 0, 0);
                """, inDatabaseAt: old)
        let statistics = try await SQLiteJobQueue(path: old).statistics()
        #expect(statistics.count(.call, .ready) == 2 && statistics.count(.call, .done) == 1)
        #expect(statistics.count(.ingest, .failed) == 1 && statistics.count(.prompt, .ready) == 0)
        // Opening again changes nothing; a database from a later sluice is refused by name.
        #expect(try await SQLiteJobQueue(path: old).statistics().count(.call, .ready) == 2)
        try SQLiteJobQueue.execute("PRAGMA user_version = 999", inDatabaseAt: old)
        let error = #expect(throws: SluiceError.self) { try SQLiteJobQueue(path: old) }
        #expect(error?.message.contains("counts.db") == true && error?.message.contains("999") == true)
    }

    /// Version 3 kept request and response bodies as JSON strings inside the JSON, and chunk jobs
    /// held the text: after the move to bytes, the unfinished jobs and stored results read as before.
    @Test func bodiesInsideTheJSONOfVersionThreeMoveBesideIt() async throws {
        let path = directory.file("v3.db")
        let runID = try await SQLiteJobQueue(path: path).run(
            root: "/r", pipeline: fixture.run.pipeline, pipelineHash: "h"
        ).id
        let document = #"{"mtime":1,"path":"a.md","sha256":"ab","size":3}"#
        let request = #"{"messages":[{"content":"Sum \"this\"\n","role":"user"}],"max_tokens":5}"#
        let reply = #"{"choices":[{"message":{"content":"Done","role":"assistant"}}],"id":"r1"}"#
        func quoted(_ text: String) -> String { JSONText.quoted(text) }
        let call =
            #"{"body":\#(quoted(request)),"charge":10,"chunk":0,"chunks":1,"customID":"c","document":\#(document),"#
            + #""promptTokens":5,"unitKey":"u1"}"#
        let record =
            #"{"attempts":1,"body":\#(quoted(reply)),"deployment":"d","latencyMilliseconds":7,"statusCode":200}"#
        let failed =
            #"{"attempts":1,"body":\#(quoted(reply)),"deployment":"d","errorCode":"content_filter","#
            + #""latencyMilliseconds":7,"statusCode":200}"#
        let collect =
            #"{"chunk":0,"chunks":1,"customID":"c","document":\#(document),"pipeline":"p","record":\#(failed)}"#
        let chunk = ##"{"document":\##(document),"text":"# Title\n\nBody text."}"##
        func hex(_ text: String) -> String { text.utf8.map { String(format: "%02x", $0) }.joined() }
        try SQLiteJobQueue.execute(
            """
            ALTER TABLE jobs DROP COLUMN body; ALTER TABLE unit_results DROP COLUMN body; ALTER TABLE jobs DROP COLUMN passed_by;
            INSERT INTO jobs(run_id, stage, key, state, payload, created, updated) VALUES
                (\(runID), 'call', 'k', 'ready', x'\(hex(call))', 0, 0),
                (\(runID), 'collect', 'k!failed', 'ready', x'\(hex(collect))', 0, 0),
                (\(runID), 'chunk', 'd', 'ready', x'\(hex(chunk))', 0, 0);
            INSERT INTO unit_results(unit_key, result, created) VALUES('u1', x'\(hex(record))', 0);
            PRAGMA user_version = 3;
            """, inDatabaseAt: path)

        let queue = try SQLiteJobQueue(path: path)
        let callJob = try #require(
            try await queue.claim(stage: .call, limit: 1, owner: "o", leaseSeconds: 60, now: 1).first)
        #expect(callJob.body == Data(request.utf8))
        #expect(!String(decoding: callJob.payload, as: UTF8.self).contains("messages"))
        #expect(try callJob.decode(CallInput.self).unitKey == "u1")
        let stored = try #require(try await queue.unitResult(unitKey: "u1"))
        #expect(stored.body == Data(reply.utf8))
        #expect(try stored.record().latencyMilliseconds == 7 && (try stored.record().body) == Data(reply.utf8))
        let line = try #require(
            try await queue.claim(stage: .collect, limit: 1, owner: "o", leaseSeconds: 60, now: 1).first)
        #expect(line.body == Data(reply.utf8))
        #expect(try line.decode(CollectInput.self).record?.errorCode == "content_filter")
        let chunkJob = try #require(
            try await queue.claim(stage: .chunk, limit: 1, owner: "o", leaseSeconds: 60, now: 1).first)
        let blocks = try chunkJob.decode(ChunkInput.self).blocks
        #expect(
            blocks == [
                TextBlock(kind: .heading, text: "Title", level: 1, page: nil),
                TextBlock(kind: .paragraph, text: "Body text.", level: nil, page: nil),
            ])
    }
}
