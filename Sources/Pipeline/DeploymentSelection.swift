import Call
import Catalog
import Foundation
import Queue
import Scheduler
import SluiceCore

/// Which deployments a command calls: a deployments file (with a profile), or one deployment given
/// by flags. The values are the command line's (`sluice run`, `estimate`, `deployments`); the
/// methods turn them into deployment entries, pools and the model catalog.
public struct DeploymentSelection: Sendable {
    /// URL shapes of a deployment given by flags.
    public enum APIShape: String, Sendable, CaseIterable {
        /// Azure's dated URL: `/openai/deployments/{name}/chat/completions?api-version=V`.
        case azure
        /// Azure's `/openai/v1/chat/completions`, the deployment in the body's `model`.
        case azureV1 = "azure-v1"
        /// An OpenAI-compatible `/v1/chat/completions`.
        case openai

        /// The client's URL shape.
        public func deployment(apiVersion: String) -> Deployment.API {
            switch self {
            case .azure: .azure(apiVersion: apiVersion)
            case .azureV1: .azureV1
            case .openai: .openAICompatible
            }
        }
    }

    /// How a deployment given by flags is paced.
    public enum Kind: String, Sendable, CaseIterable {
        /// Paced under TPM and RPM.
        case standard
        /// Kept full (PTU).
        case provisioned
        /// A Global Batch deployment: the batch lane, within its enqueued-token quota.
        case batch
    }

    /// The deployments file (nil: deployments.yaml next to the database, if there is one).
    public var deployments: String?
    /// The file's profile (nil: its default_profile, or all deployments).
    public var profile: String?
    /// One deployment by flags: its endpoint (nil: $AZURE_OPENAI_ENDPOINT).
    public var endpoint: String?
    /// The deployment, or pool of the file, to call (nil: the pipeline's, or all).
    public var deployment: String?
    /// The URL shape of a deployment given by flags.
    public var api: APIShape = .azure
    /// The azure shape's api-version (nil: $OPENAI_API_VERSION or 2024-10-21).
    public var apiVersion: String?
    /// The environment variable holding the API key.
    public var apiKeyEnv = "AZURE_OPENAI_API_KEY"
    /// How a deployment given by flags is paced.
    public var kind: Kind = .standard
    /// The deployment's model (nil: the pipeline's).
    public var model: String?
    /// Tokens per minute of a standard deployment (nil: learned from headers and 429s).
    public var tpm: Int?
    /// Requests per minute (nil: derived from the TPM with the model's ratio).
    public var rpm: Int?
    /// PTUs of a provisioned deployment.
    public var ptu: Int?
    /// A batch deployment's enqueued-token quota.
    public var enqueuedTokens: Int?
    /// Seconds between looks at a batch in progress (nil: the file's, else 60).
    public var batchPoll: Double?
    /// Keep batch input and output files on the service.
    public var keepBatchFiles = false
    /// How the deployment is priced (global, data_zone, standard, batch; provisioned: global, data_zone, regional).
    public var sku: String?
    /// Requests in flight at most: "N" for every deployment, or "NAME=N" for one.
    public var concurrency: [String] = []
    /// Per-request timeout in seconds.
    public var timeout: Double = 120
    /// A 429's retry-after longer than this (seconds) stops that deployment instead of waiting.
    public var maxRetryAfter: Double = 120
    /// How much faster than the wall clock the built-in simulator runs.
    public var timeScale: Double = 1

    /// Nothing chosen: the deployments file next to the database, or the environment.
    public init() {}

    /// The deployment (or pool) chosen: `--deployment`, or the only deployment there is.
    public func chosen(among entries: [DeploymentsFile.Entry]) -> String? {
        deployment ?? (entries.count == 1 ? entries.first?.name : nil)
    }

    /// The deployments file to read, if any.
    public func deploymentsFile(database: String) -> String? {
        if let deployments { return deployments }
        return endpoint == nil ? Self.fileNextTo(database: database) : nil
    }

    /// Refuses an implicit deployments file that would send credentials to a host nobody named.
    public static func checkImplicit(_ entries: [DeploymentsFile.Entry], path: String) throws {
        let environment = ProcessInfo.processInfo.environment
        let named = environment["AZURE_OPENAI_ENDPOINT"].flatMap { URL(string: $0)?.host?.lowercased() }
        for entry in entries {
            let host = URL(string: entry.endpoint)?.host?.lowercased() ?? ""
            let azure = [".openai.azure.com", ".cognitiveservices.azure.com", ".services.ai.azure.com"].contains {
                host.hasSuffix($0)
            }
            let loopback = host == "localhost" || host == "127.0.0.1" || host == "::1" || host == "[::1]"
            if !(azure || loopback || host == named) {
                throw SluiceError(
                    .invalidConfiguration,
                    "\(path): found next to the database, it sends deployment '\(entry.name)' to \(entry.endpoint), not an Azure OpenAI host nor AZURE_OPENAI_ENDPOINT's; pass --deployments \(path) if you mean it"
                )
            }
            let variable: String?
            switch entry.auth {
            case .apiKeyEnvironment(let name), .bearerEnvironment(let name): variable = name
            case .entra, .none: variable = nil
            }
            if let variable,
                !(variable.contains("OPENAI") || variable.contains("AZURE") || variable.hasSuffix("_API_KEY"))
            {
                throw SluiceError(
                    .invalidConfiguration,
                    "\(path): found next to the database, its deployment '\(entry.name)' sends the variable \(variable), which does not look like an API key; pass --deployments \(path) if you mean it"
                )
            }
        }
    }

    /// deployments.yaml next to the database, if there is one (a database server has no folder: none).
    public static func fileNextTo(database: String) -> String? {
        guard !PostgresLocation.isURL(database) else { return nil }
        let path = ((database as NSString).deletingLastPathComponent as NSString)
            .appendingPathComponent("deployments.yaml")
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    /// The deployment entries (secrets unresolved), the pools and the model catalog (with the file's
    /// overrides): from the file, or one entry from the flags.
    public func entries(
        database: String, pipeline: PipelineDefinition?, simulated: Bool, note: (String) -> Void = { _ in }
    ) throws -> (entries: [DeploymentsFile.Entry], pools: [String: [String]], catalog: ModelCatalog) {
        try entries(
            file: loadFile(database: database), pipeline: pipeline, simulated: simulated, database: database, note: note
        )
    }

    /// The deployments file that applies, read (nil when the flags name the deployment or there is none).
    public func loadFile(database: String) throws -> DeploymentsFile? {
        guard endpoint == nil, let path = deploymentsFile(database: database) else { return nil }
        return try DeploymentsFile.load(path)
    }

    /// The entries, pools and catalog of a file read with ``loadFile(database:)``.
    ///
    /// A file found next to the database (not given with `--deployments`) is said on stderr, and must
    /// not send credentials where nobody asked: its endpoints must be Azure OpenAI's own hosts,
    /// loopback or AZURE_OPENAI_ENDPOINT's host, and its key variables look like API keys (a planted
    /// file must not send another secret to another origin). Anything else needs `--deployments`.
    ///
    /// - Parameter note: Told which file the deployments come from (for the user, on stderr).
    public func entries(
        file: DeploymentsFile?, pipeline: PipelineDefinition?, simulated: Bool, database: String,
        note: (String) -> Void = { _ in }
    ) throws -> (entries: [DeploymentsFile.Entry], pools: [String: [String]], catalog: ModelCatalog) {
        var entries: [DeploymentsFile.Entry]
        var pools: [String: [String]] = [:]
        var catalog = ModelCatalog.builtIn
        if let file {
            catalog = file.catalog
            entries = try file.selection(profile: profile)
            if deployments == nil, let path = Self.fileNextTo(database: database) {
                note("deployments from \(path) (found next to the database)")
                if !simulated { try Self.checkImplicit(entries, path: path) }
            } else if let deployments {
                note("deployments from \(deployments)")
            }
            let names = Set(entries.map(\.name))
            pools = file.pools.filter { $0.value.allSatisfy(names.contains) }
        } else {
            entries = [try flagEntry(pipeline: pipeline, simulated: simulated)]
        }
        try applyConcurrency(&entries)
        for index in entries.indices where entries[index].batch != nil {
            if keepBatchFiles { entries[index].batch?.keepFiles = true }
            if let batchPoll { entries[index].batch?.pollSeconds = max(0.01, batchPoll) }
        }
        return (entries, pools, catalog)
    }

    private func flagEntry(pipeline: PipelineDefinition?, simulated: Bool) throws -> DeploymentsFile.Entry {
        let environment = ProcessInfo.processInfo.environment
        let endpoint = self.endpoint ?? environment["AZURE_OPENAI_ENDPOINT"] ?? (simulated ? "http://simulator" : "")
        guard !endpoint.isEmpty else {
            throw SluiceError(
                .invalidConfiguration,
                "no endpoint: pass --endpoint, set AZURE_OPENAI_ENDPOINT, use a deployments file, or --simulate")
        }
        let name = deployment ?? pipeline?.deployment ?? (simulated ? "sim" : nil)
        guard let name else {
            throw SluiceError(.invalidConfiguration, "no deployment: pass --deployment or name one in the pipeline")
        }
        let modelName = model ?? pipeline?.model ?? ""
        let quotaKind: DeploymentQuota.Kind
        var derived = false
        switch kind {
        case .standard:
            (quotaKind, derived) = DeploymentQuota.Kind.standard(
                tokensPerMinute: tpm, requestsPerMinute: rpm, model: modelName)
        case .provisioned:
            quotaKind = .provisioned(ptu: ptu, model: modelName)
        case .batch:
            quotaKind = .standard(tokensPerMinute: nil, requestsPerMinute: nil)
        }
        var batch: BatchSettings?
        if kind == .batch {
            guard let enqueuedTokens else {
                throw SluiceError(
                    .invalidConfiguration,
                    "--enqueued-tokens is required with --kind batch: the deployment's quota of enqueued tokens, as the portal shows it"
                )
            }
            batch = BatchSettings(enqueuedTokens: enqueuedTokens, pollSeconds: batchPoll ?? 60)
        } else if enqueuedTokens != nil {
            throw SluiceError(.invalidConfiguration, "--enqueued-tokens is for a batch deployment (--kind batch)")
        }
        let billing: Billing
        do {
            billing = try Billing(kind: quotaKind, sku: sku, batch: kind == .batch)
        } catch let error as SluiceError {
            throw SluiceError(.invalidConfiguration, "--sku \(sku ?? ""): \(error.message)", cause: error)
        }
        let auth: DeploymentsFile.Entry.Auth
        if simulated {
            auth = .none
        } else if environment[apiKeyEnv].map({ !$0.isEmpty }) ?? false {
            auth = api == .openai ? .bearerEnvironment(apiKeyEnv) : .apiKeyEnvironment(apiKeyEnv)
        } else if environment["AZURE_OPENAI_AD_TOKEN"].map({ !$0.isEmpty }) ?? false {
            auth = .bearerEnvironment("AZURE_OPENAI_AD_TOKEN")
        } else {
            throw SluiceError(
                .invalidConfiguration,
                "no credentials: set \(apiKeyEnv) (or AZURE_OPENAI_AD_TOKEN for an Entra ID token)")
        }
        let version = apiVersion ?? environment["OPENAI_API_VERSION"] ?? "2024-10-21"
        return DeploymentsFile.Entry(
            name: name, endpoint: endpoint, api: api.deployment(apiVersion: version), deployment: name,
            model: modelName.isEmpty ? nil : modelName, auth: auth,
            quota: DeploymentQuota(name: name, kind: quotaKind, maxConcurrency: kind == .provisioned ? 128 : 16)
                .withFacts(of: modelName),
            derivedRPM: derived, timeoutSeconds: timeout, spillover: nil, billing: billing, batch: batch)
    }

    private func applyConcurrency(_ entries: inout [DeploymentsFile.Entry]) throws {
        for item in concurrency {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard let value = Int(parts.last ?? ""), value >= 1 else {
                throw SluiceError(.invalidConfiguration, "--concurrency: '\(item)' is not N or NAME=N with N ≥ 1")
            }
            if parts.count == 2 {
                guard let index = entries.firstIndex(where: { $0.name == parts[0] }) else {
                    throw SluiceError(
                        .invalidConfiguration,
                        "--concurrency: no deployment '\(parts[0])' (have: \(entries.map(\.name).joined(separator: ", ")))"
                    )
                }
                entries[index].quota.maxConcurrency = value
            } else {
                for index in entries.indices { entries[index].quota.maxConcurrency = value }
            }
        }
    }

    /// The deployments by name with their secrets read from the environment (the simulator's key when simulated).
    public static func resolve(_ entries: [DeploymentsFile.Entry], simulated: Bool) throws -> [String: Deployment] {
        let environment = ProcessInfo.processInfo.environment
        var deployments: [String: Deployment] = [:]
        for entry in entries {
            var resolved = try entry.resolve(environment: environment)
            if simulated { resolved.authentication = .apiKey("sim-key") }
            deployments[entry.name] = resolved
        }
        return deployments
    }

}
