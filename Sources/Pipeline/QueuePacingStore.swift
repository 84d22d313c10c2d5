import Call
import Foundation
import Queue
import Scheduler

/// The deployments' shared pacing state kept in the queue's run state, one JSON value per
/// deployment, updated in the queue's transactions: how the workers of one queue pace together.
///
/// A deployment's state is found by what it calls (the endpoint's host and path, and the deployment
/// name), not by the name a worker's deployments file gives it, so workers whose files name one
/// Azure deployment differently still share it. Query strings and user info are left out of the key:
/// no secret reaches the database.
struct QueuePacingStore: SharedPacingStore {
    let queue: any JobQueue
    /// The run-state key of each deployment, by its name in this worker's configuration.
    let keys: [String: String]

    init(queue: any JobQueue, deployments: [String: Deployment]) {
        self.queue = queue
        keys = deployments.mapValues(Self.key)
    }

    /// The run-state key of a deployment's pacing state.
    static func key(_ deployment: Deployment) -> String {
        let url = URLComponents(string: deployment.endpoint)
        let host = (url?.host ?? deployment.endpoint).lowercased()
        let port = url?.port.map { ":\($0)" } ?? ""
        let path = url?.path ?? ""
        return "pacing \(host)\(port)\(path) \(deployment.deployment)"
    }

    func update<T: Sendable>(
        deployment: String, _ body: @escaping @Sendable (inout SharedPacingState, _ now: Double) throws -> T
    ) async throws -> T {
        try await queue.updateRunState(key: keys[deployment] ?? "pacing \(deployment)") { value, now in
            // A value this sluice cannot read (another version's, or damaged) starts afresh: the
            // bucket is one minute's pacing, not work.
            var state =
                value.flatMap { try? JSONDecoder().decode(SharedPacingState.self, from: $0) } ?? SharedPacingState()
            let result = try body(&state, now)
            value = try JSONEncoder().encode(state)
            return result
        }
    }
}
