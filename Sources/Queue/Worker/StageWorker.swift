import SluiceCore

/// What one stage does with one job: the stage's own module implements it, and a ``StageService``
/// claims the jobs, keeps them in flight and commits what the worker made of them.
public protocol StageWorker: Sendable {
    /// The stage whose jobs this worker takes.
    var stage: Stage { get }

    /// Works one claimed job. Never throws: a failure is an outcome (with its reason), and a job
    /// stopped part-way by cancellation is ``JobOutcome/released(_:)``.
    func process(_ job: Job) async -> JobOutcome
}
