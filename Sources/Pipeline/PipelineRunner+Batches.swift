import Call
import Foundation
import Logging
import Queue
import SluiceCore

/// The batch lane of a run: its intake, the Files and Batches API client of each batch deployment,
/// and its service.
struct BatchLaneParts: Sendable {
    let lane: BatchLane
    let clients: [String: BatchAPIClient]
    let configuration: BatchLaneService.Configuration
    let logger: Logger
    let note: @Sendable (String) -> Void

    func service(worker: CallWorker, queue: any JobQueue, owner: String) -> BatchLaneService {
        BatchLaneService(
            lane: lane, worker: worker, queue: queue, owner: owner, clients: clients, configuration: configuration,
            logger: logger, note: note)
    }

    /// Shuts the clients down.
    func shutdown() async throws {
        for client in clients.values { try await client.shutdown() }
    }
}

extension PipelineRunner {
    /// The run's batch lane, when it has batch deployments.
    ///
    /// - Parameter endsWhenIdle: The lane stops once no batch is left to drive (`sluice cancel`).
    func batchLane(endsWhenIdle: Bool = false) -> BatchLaneParts? {
        guard !configuration.batch.isEmpty else { return nil }
        var laneConfiguration = configuration.batchLane
        laneConfiguration.endsWhenIdle = endsWhenIdle
        var clients: [String: BatchAPIClient] = [:]
        for name in configuration.batch.keys {
            if let deployment = configuration.deployments[name] {
                clients[name] = BatchAPIClient(deployment: deployment)
            }
        }
        return BatchLaneParts(
            lane: BatchLane(settings: configuration.batch, clock: configuration.runClock), clients: clients,
            configuration: laneConfiguration, logger: logger, note: configuration.notice)
    }
}

/// What `sluice cancel` did.
public struct BatchCancellation: Sendable {
    /// Batches asked to be cancelled.
    public var asked: Int
    /// Whether this process drove them to their end (false: a running `sluice run` does).
    public var drivenHere: Bool
    /// Those batches as they ended (when driven here).
    public var batches: [BatchRecord]
    /// The run that wrote their lines (when driven here).
    public var summary: RunSummary?
}

extension PipelineRunner {
    /// `sluice cancel`: asks for every batch not ended to be cancelled and, unless a running `sluice
    /// run` holds the database (it cancels them itself), drives them to their end here: a batch not
    /// created yet ends at once, a running one is cancelled on the service; the lines they answered
    /// are committed and written to the output, the calls they did not answer go back to the queue.
    public func cancelBatches() async throws -> BatchCancellation {
        let asked = try await queue.requestBatchCancel()
        let before = Set(try await queue.batches(all: false).map(\.id))
        if !configuration.sharedQueue && configuration.runLock == nil {
            do {
                _ = try RunLock(databasePath: databasePath)
            } catch {
                return BatchCancellation(asked: asked, drivenHere: false, batches: [], summary: nil)
            }
        }
        guard !configuration.batch.isEmpty || before.isEmpty else {
            throw SluiceError(
                .invalidConfiguration,
                "the queue has \(before.count) batches in flight but no batch deployment is configured: pass the deployments file that names them"
            )
        }
        let summary = before.isEmpty ? nil : try await run(progress: { _ in }, cancelling: true)
        let after = try await queue.batches(all: true).filter { before.contains($0.id) }
        return BatchCancellation(asked: asked, drivenHere: true, batches: after, summary: summary)
    }
}
