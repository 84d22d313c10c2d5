import Foundation
import Queue
import Scheduler

/// The deployments' shared pacing state kept in the queue's run state, one JSON value per
/// deployment, updated in the queue's transactions: how the workers of one queue pace together.
struct QueuePacingStore: SharedPacingStore {
    let queue: any JobQueue

    /// The run-state key of a deployment's pacing state.
    static func key(_ deployment: String) -> String { "pacing " + deployment }

    func update<T: Sendable>(
        deployment: String, _ body: @escaping @Sendable (inout SharedPacingState, _ now: Double) throws -> T
    ) async throws -> T {
        try await queue.updateRunState(key: Self.key(deployment)) { value, now in
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
