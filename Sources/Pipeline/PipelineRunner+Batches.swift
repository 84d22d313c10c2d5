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
    func batchLane() -> BatchLaneParts? {
        guard !configuration.batch.isEmpty else { return nil }
        var clients: [String: BatchAPIClient] = [:]
        for name in configuration.batch.keys {
            if let deployment = configuration.deployments[name] {
                clients[name] = BatchAPIClient(deployment: deployment)
            }
        }
        return BatchLaneParts(
            lane: BatchLane(settings: configuration.batch, clock: configuration.runClock), clients: clients,
            configuration: configuration.batchLane, logger: logger, note: configuration.notice)
    }
}
