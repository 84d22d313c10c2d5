import Foundation
import Logging
import Queue
import ServiceLifecycle
import SluiceCore

/// The run's monitor as a service: reports progress, ends the run when the queue is drained (or the
/// run is asked to stop), and every few seconds hands back the jobs of owners that died meanwhile.
///
/// It wakes on the queue's commits, not on a timer: the drained check runs after a commit (at most
/// every `minimumCheckInterval`) or after the fallback interval, when another process may have
/// written; progress reports come every `progressInterval`, and read the queue's statistics only
/// when something was committed since the last report (or the fallback passed). An idle run costs
/// one wake per progress report.
struct RunMonitor: Service {
    let runner: PipelineRunner
    let owner: LeaseOwner
    let progress: @Sendable (RunProgress) -> Void
    static let minimumCheckInterval = Duration.milliseconds(20)

    private var queue: any JobQueue { runner.queue }
    private var configuration: RunConfiguration { runner.configuration }

    func run() async throws {
        let stopping = ShutdownFlag()
        let signals = queue.signals
        try await withGracefulShutdownHandler {
            try await watch(stopping)
        } onGracefulShutdown: {
            stopping.set()
            signals.notifyWatchers()
        }
    }

    private func watch(_ stopping: ShutdownFlag) async throws {
        let clock = configuration.runClock
        let signals = queue.signals
        let fallback = configuration.fallbackInterval.seconds
        let progressInterval = max(0.01, configuration.progressInterval)
        let reclaimInterval = max(0.01, configuration.reclaimInterval)
        var checked: UInt64?
        var lastCheck = clock.now
        var nextReport = clock.now
        var nextReclaim = clock.now + reclaimInterval
        var statistics: (generation: UInt64, at: Double, value: QueueStatistics)?
        func report(_ generation: UInt64) async throws {
            let now = clock.now
            if statistics == nil || statistics?.generation != generation || now - (statistics?.at ?? now) >= fallback {
                statistics = (generation, now, try await queue.statistics())
            }
            if let statistics { progress(try await runner.makeProgress(statistics.value)) }
        }
        while !Task.isCancelled && !stopping.isSet && !runner.stopRequested {
            let generation = signals.generation(nil)
            let now = clock.now
            if checked != generation || now - lastCheck >= fallback {
                if try await !queue.hasPendingWork() {
                    runner.markDrained()
                    try await report(signals.generation(nil))
                    return
                }
                (checked, lastCheck) = (generation, now)
            }
            if now >= nextReport {
                try await report(generation)
                nextReport = now + progressInterval
            }
            if now >= nextReclaim {
                try await runner.beatAndReclaim(owner: owner, now: now)
                nextReclaim = now + reclaimInterval
            }
            // Commits come in bursts while the stages work: look at most every minimumCheckInterval.
            // With none since this look, there is nothing to batch: wait for the next at once.
            if signals.generation(nil) != generation {
                try? await clock.sleep(until: now + Self.minimumCheckInterval.seconds)
            }
            let (wakeAt, looked) = (min(nextReport, nextReclaim, lastCheck + fallback), clock.now)
            if wakeAt > looked {
                await signals.wait(
                    for: nil, after: generation, claimedAt: looked, fallback: .seconds(wakeAt - looked), clock: clock)
            }
        }
        if !Task.isCancelled { try await report(signals.generation(nil)) }
    }
}
