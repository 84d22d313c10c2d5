import Foundation
import Queue
import SluiceCore

/// The steps of a batch's life, each recorded in the queue before the next request.
extension BatchLaneService {
    /// The metadata key that names a batch (found again by it after a crash).
    static let nameKey = "sluice_batch"

    /// Packs calls offered into input files and records each batch (its jobs held) within the quota.
    func pack(_ offers: [BatchLane.Offer], deployment name: String, inUse: Int) async throws {
        let started = ContinuousClock.now
        defer { configuration.timings?.add(.pack, since: started) }
        guard let settings = lane.settings[name], let deployment = worker.configuration.deployments[name] else {
            try await queue.release(jobIDs: offers.map(\.job.id), owner: owner)
            return
        }
        let packer = BatchPacker(deployment: deployment.deployment, enqueuedTokens: settings.enqueuedTokens)
        let packing = packer.pack(
            offers.map {
                BatchPacker.Request(
                    customID: $0.input.customID, body: $0.input.body, inputTokens: $0.input.promptTokens)
            }, inFlightTokens: inUse)
        var byID = OffersByID(offers)
        var waiting: [BatchLane.Offer] = []
        var lost: [Int64] = []
        for file in packing.files {
            let offered = file.customIDs.compactMap { byID.take($0) }
            let now = lane.clock.now
            let batch = BatchRecord(
                deployment: name, name: "sluice-" + UUID().uuidString.lowercased(), inputTokens: file.inputTokens,
                lines: offered.count, owner: owner, now: now)
            let lines = offered.map { BatchLine(customID: $0.input.customID, jobID: $0.job.id) }
            switch try await queue.recordBatch(batch, lines: lines, owner: owner, quota: settings.enqueuedTokens) {
            case .recorded(let recorded):
                memory.contents.withLock { $0[recorded.id] = file.content }
                logger.info(
                    "batch \(recorded.name): \(recorded.lines) calls, \(recorded.inputTokens) input tokens packed for \(name)"
                )
            case .quotaFull: waiting += offered
            case .leaseLost: lost += offered.map(\.job.id)
            }
        }
        waiting += packing.waiting.compactMap { byID.take($0.customID) }
        let refused = packing.tooLarge.compactMap { refused in
            byID.take(refused.request.customID).map { ($0, refused.reason) }
        }
        let now = lane.clock.now
        var failures = waiting.map {
            JobFailure(
                jobID: $0.job.id, errorClass: .rateLimited,
                message: "waiting for the enqueued-token quota of batch deployment \(name)",
                retryAt: now + settings.pollSeconds, countsAsAttempt: false)
        }
        failures += refused.map {
            JobFailure(
                jobID: $0.0.job.id, errorClass: .badRequest, message: "no batch can take this call: \($0.1)",
                retryAt: nil)
        }
        try await queue.fail(failures, owner: owner, now: now)
        // Jobs some of whose batch-mates were lost are still this owner's: back to the queue.
        try await queue.release(jobIDs: lost, owner: owner)
    }

    /// Moves a batch on by one or more steps.
    func advance(_ start: BatchRecord) async throws {
        guard let client = clients[start.deployment], let settings = lane.settings[start.deployment] else { return }
        var batch = start
        if batch.cancelRequested && (batch.step == .packed || batch.step == .uploaded) {
            try await withdraw(&batch, client)
        }
        var moved = true
        while moved {
            moved = false
            let before = batch.step
            switch batch.step {
            case .packed: try await upload(&batch, client)
            case .uploaded: try await create(&batch, client, settings)
            case .submitted: try await poll(&batch, client, settings)
            case .ended: try await collect(&batch, client)
            case .collected: try await deleteFiles(&batch, client, settings)
            case .done: break
            }
            moved = batch.step != before && batch.step != .done
        }
    }

    /// A request's answer or failure, as a value.
    private static func result<T>(_ body: () async throws(BatchAPIClient.Failure) -> T) async -> Result<
        T, BatchAPIClient.Failure
    > {
        do {
            return .success(try await body())
        } catch {
            return .failure(error)
        }
    }

    private func record(_ batch: inout BatchRecord) async throws {
        batch.updated = lane.clock.now
        try await queue.updateBatch(batch)
    }

    private func wait(_ batch: BatchRecord, _ seconds: Double) {
        let at = lane.clock.now + seconds
        memory.due.withLock { $0[batch.id] = at }
    }

    // MARK: Steps

    /// A batch cancelled before it was created ends at once, its calls back to the queue (a file
    /// or batch whose request was sent is looked for first: a batch made is cancelled on the service).
    private func withdraw(_ batch: inout BatchRecord, _ client: BatchAPIClient) async throws {
        if batch.step == .packed && batch.uploadSent {
            batch.inputFileID = try await client.file(named: batch.name + ".jsonl")?.id
        }
        if batch.step == .uploaded && batch.creationSent,
            let found = try await client.batch(metadata: Self.nameKey, batch.name)
        {
            batch.batchID = found.id
            batch.status = found.status
            batch.step = .submitted
            batch.creationSent = false
            return try await record(&batch)
        }
        batch.status = "cancelled"
        batch.step = .ended
        batch.message = "cancelled before it was submitted"
        try await record(&batch)
    }

    /// `packed` → `uploaded`: the input file, found on the service if an upload was sent before.
    private func upload(_ batch: inout BatchRecord, _ client: BatchAPIClient) async throws {
        let started = ContinuousClock.now
        defer { configuration.timings?.add(.upload, since: started) }
        let filename = batch.name + ".jsonl"
        if batch.uploadSent, let found = try await client.file(named: filename) {
            batch.inputFileID = found.id
        } else {
            let content = try await inputFile(batch)
            batch.uploadSent = true
            try await record(&batch)
            batch.inputFileID = try await client.upload(content, filename: filename).id
        }
        batch.uploadSent = false
        batch.step = .uploaded
        try await record(&batch)
        memory.contents.withLock { $0[batch.id] = nil }
    }

    /// The input file of a batch: as packed by this process, or rebuilt from its held jobs.
    private func inputFile(_ batch: BatchRecord) async throws -> Data {
        if let packed = memory.contents.withLock({ $0[batch.id] }) { return packed }
        guard let deployment = worker.configuration.deployments[batch.deployment] else { return Data() }
        let packer = BatchPacker(deployment: deployment.deployment, enqueuedTokens: batch.inputTokens)
        let lines = try await queue.batchLines(batchID: batch.id)
        let jobs = Dictionary(
            try await queue.jobs(ids: lines.map(\.jobID)).map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var content = Data()
        for line in lines {
            guard let job = jobs[line.jobID] else { continue }
            content += packer.line(
                BatchPacker.Request(customID: line.customID, body: job.body ?? Data(), inputTokens: 0))
            content.append(UInt8(ascii: "\n"))
        }
        return content
    }

    /// `uploaded` → `submitted`: once the file is processed, the batch, found on the service if a
    /// creation was sent before. A creation refused for the quota waits with backoff.
    private func create(_ batch: inout BatchRecord, _ client: BatchAPIClient, _ settings: BatchSettings) async throws {
        guard let fileID = batch.inputFileID else {
            batch.step = .packed
            return try await record(&batch)
        }
        let file = try await client.file(fileID)
        switch file.status {
        case "processed": break
        case "error", "deleted":
            // The service could not use the file: upload it again.
            batch.inputFileID = nil
            batch.step = .packed
            batch.message = "input file \(fileID) was \(file.status); uploading it again"
            return try await record(&batch)
        default: return wait(batch, settings.stepSeconds)
        }
        if batch.creationSent, let found = try await client.batch(metadata: Self.nameKey, batch.name) {
            batch.batchID = found.id
            batch.status = found.status
        } else {
            batch.creationSent = true
            try await record(&batch)
            let created = await Self.result { [name = batch.name] () async throws(BatchAPIClient.Failure) in
                try await client.createBatch(inputFileID: fileID, metadata: [Self.nameKey: name])
            }
            switch created {
            case .success(let made):
                batch.batchID = made.id
                batch.status = made.status
            case .failure(let failure) where failure.code == "token_limit_exceeded":
                batch.creationSent = false
                return try await refused(&batch, settings, failure.message)
            case .failure(let failure):
                throw failure
            }
        }
        batch.creationSent = false
        batch.step = .submitted
        try await record(&batch)
        wait(batch, settings.stepSeconds)
    }

    /// The enqueued-token quota refused the batch (another client uses it): the same file is
    /// submitted again after a backoff.
    private func refused(_ batch: inout BatchRecord, _ settings: BatchSettings, _ message: String) async throws {
        batch.refusals += 1
        batch.batchID = nil
        batch.status = nil
        batch.step = .uploaded
        batch.notBefore =
            lane.clock.now + settings.refusalBackoff(refusals: batch.refusals, jitter: Double.random(in: 0...1))
        batch.message = "the enqueued-token quota refused it (\(batch.refusals)×): \(message)"
        logger.notice("batch \(batch.name): \(batch.message ?? "")")
        try await record(&batch)
    }

    /// `submitted` → `ended`: polls the batch until the service is done with it (and asks for it to
    /// be cancelled when `sluice cancel` said so).
    private func poll(_ batch: inout BatchRecord, _ client: BatchAPIClient, _ settings: BatchSettings) async throws {
        guard let id = batch.batchID else {
            batch.step = .uploaded
            return try await record(&batch)
        }
        var state = try await client.batch(id)
        if state.status == "failed", state.errors.contains(where: { $0.code == "token_limit_exceeded" }) {
            let said = state.errors.first { $0.code == "token_limit_exceeded" }?.message ?? "token_limit_exceeded"
            return try await refused(&batch, settings, said)
        }
        if batch.cancelRequested && !state.isTerminal && state.status != "cancelling" {
            state = try await client.cancel(id)
        }
        let changed =
            state.status != batch.status || state.requestCounts.completed != batch.completed
            || state.requestCounts.failed != batch.failed
        batch.status = state.status
        batch.completed = state.requestCounts.completed
        batch.failed = state.requestCounts.failed
        if state.isTerminal {
            batch.outputFileID = state.outputFileID
            batch.errorFileID = state.errorFileID
            if state.status == "failed" {
                batch.message = state.errors.map { "\($0.code): \($0.message)" }.joined(separator: "; ")
            }
            batch.step = .ended
            return try await record(&batch)
        }
        if changed { try await record(&batch) }
        wait(batch, state.status == "validating" ? settings.stepSeconds : settings.pollSeconds)
    }

    /// `ended` → `collected`: reads the output and error files and commits every line's call
    /// (bound by `custom_id`); the calls without a line go back to the queue.
    private func collect(_ batch: inout BatchRecord, _ client: BatchAPIClient) async throws {
        var answered: [String: BatchOutputLine] = [:]
        for fileID in [batch.outputFileID, batch.errorFileID].compactMap({ $0 }) {
            let downloading = ContinuousClock.now
            let data = try await client.content(fileID, limit: configuration.maxFileBytes)
            configuration.timings?.add(.download, since: downloading)
            let reading = ContinuousClock.now
            defer { configuration.timings?.add(.reconcile, since: reading) }
            for line in data.split(separator: UInt8(ascii: "\n")) {
                guard let parsed = BatchOutputLine(line) else { continue }
                // A line in the output file wins over one in the error file.
                if answered[parsed.customID] == nil { answered[parsed.customID] = parsed }
            }
        }
        var started = ContinuousClock.now
        let lines = try await queue.batchLines(batchID: batch.id)
        let customIDs = Dictionary(lines.map { ($0.jobID, $0.customID) }, uniquingKeysWith: { first, _ in first })
        let jobs = try await queue.claimBatched(
            batchID: batch.id, owner: owner, leaseSeconds: configuration.leaseSeconds, now: lane.clock.now)
        configuration.timings?.add(.commit, since: started)
        started = ContinuousClock.now
        var outcomes: [JobOutcome] = []
        for job in jobs {
            outcomes.append(
                await worker.batchOutcome(job, line: customIDs[job.id].flatMap { answered[$0] }, batch: batch))
        }
        configuration.timings?.add(.reconcile, since: started)
        started = ContinuousClock.now
        try await queue.commit(outcomes, owner: owner, now: lane.clock.now)
        batch.step = .collected
        try await record(&batch)
        configuration.timings?.add(.commit, since: started)
    }

    /// `collected` → `done`: deletes the input, output and error files unless they are kept.
    private func deleteFiles(_ batch: inout BatchRecord, _ client: BatchAPIClient, _ settings: BatchSettings)
        async throws
    {
        if !settings.keepFiles {
            for fileID in [batch.inputFileID, batch.outputFileID, batch.errorFileID].compactMap({ $0 }) {
                try await client.deleteFile(fileID)
            }
        }
        batch.step = .done
        try await record(&batch)
    }
}

/// Calls offered, by `custom_id` (two calls of a packing may share one: they go to different files).
private struct OffersByID {
    private var offers: [String: [BatchLane.Offer]] = [:]

    init(_ list: [BatchLane.Offer]) {
        for offer in list { offers[offer.input.customID, default: []].append(offer) }
    }

    /// The first offer of this id not taken yet.
    mutating func take(_ id: String) -> BatchLane.Offer? {
        guard var list = offers[id], !list.isEmpty else { return nil }
        let first = list.removeFirst()
        offers[id] = list
        return first
    }
}
