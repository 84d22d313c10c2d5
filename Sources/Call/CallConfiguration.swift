import Catalog
import SluiceCore

/// How the call stage sends and prices: its deployments, retries, pools and prices.
public struct CallConfiguration: Sendable {
    /// Deployments by name.
    public var deployments: [String: Deployment]
    /// How failed calls are retried.
    public var retry: RetryPolicy
    /// The deployments a pipeline's calls may go to, for the pool or deployment it names (nil: none).
    public var pool: @Sendable (String?) -> [String]
    /// Model prices (the built-in catalog with the deployments file's overrides).
    public var catalog: ModelCatalog
    /// How each deployment is priced (default: per token at the global list price).
    public var billing: [String: Billing]
    /// Each deployment's model, for prices when a reply does not name one (default: the pipeline's).
    public var models: [String: String]
    /// The time retries are due by.
    public var clock: any RunClock = SystemRunClock()

    /// - Parameters:
    ///   - pool: The deployments a pipeline's deployment (or pool) name resolves to.
    public init(
        deployments: [String: Deployment], retry: RetryPolicy, pool: @escaping @Sendable (String?) -> [String],
        catalog: ModelCatalog, billing: [String: Billing] = [:], models: [String: String] = [:]
    ) {
        self.deployments = deployments
        self.retry = retry
        self.pool = pool
        self.catalog = catalog
        self.billing = billing
        self.models = models
    }

    /// The pricing of a deployment's calls for a pipeline.
    public func pricing(deployment: String, pipeline: PipelineDefinition) -> Pricing {
        Pricing(
            catalog: catalog, billing: billing[deployment] ?? .perToken(.global),
            deployedModel: models[deployment] ?? pipeline.model)
    }
}
