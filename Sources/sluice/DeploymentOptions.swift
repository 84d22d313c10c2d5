import ArgumentParser
import Call
import Catalog
import Foundation
import Pipeline
import Scheduler
import Simulator
import SluiceCore

/// Which deployments a command calls: a deployments file (with a profile), or one deployment given by flags.
struct DeploymentOptions: ParsableArguments {
    @Option(help: "The deployments file (default: deployments.yaml next to the database, if there is one).")
    var deployments: String?

    @Option(help: "The deployments file's profile to use (default: its default_profile, or all deployments).")
    var profile: String?

    @Option(
        help:
            "One deployment by flags: its endpoint, e.g. https://my-resource.openai.azure.com (or $AZURE_OPENAI_ENDPOINT)."
    )
    var endpoint: String?

    @Option(help: "The deployment, or pool of the deployments file, to call (default: the pipeline's, or all).")
    var deployment: String?

    @Option(help: "URL shape: azure (dated api-version URL), azure-v1 (/openai/v1) or openai (OpenAI-compatible /v1).")
    var api: APIShape = .azure

    @Option(help: "The api-version of the azure shape (default: $OPENAI_API_VERSION or 2024-10-21).")
    var apiVersion: String?

    @Option(help: "The environment variable holding the API key.")
    var apiKeyEnv = "AZURE_OPENAI_API_KEY"

    @Option(help: "standard (paced under TPM/RPM) or provisioned (kept full).")
    var kind: Kind = .standard

    @Option(help: "The deployment's model, for the RPM ratio and PTU capacity (default: the pipeline's).")
    var model: String?

    @Option(help: "Tokens per minute of a standard deployment (without it, limits are learned from headers and 429s).")
    var tpm: Int?

    @Option(help: "Requests per minute (default: derived from --tpm with the model's ratio).")
    var rpm: Int?

    @Option(help: "PTUs of a provisioned deployment.")
    var ptu: Int?

    @Option(
        help:
            "How the deployment is priced: global, data_zone, standard (regional) or batch; provisioned: global, data_zone or regional."
    )
    var sku: String?

    @Option(
        parsing: .singleValue,
        help: "Requests in flight at most: N for every deployment, or NAME=N for one (repeatable).")
    var concurrency: [String] = []

    @Option(help: "Per-request timeout in seconds.")
    var timeout: Double = 120

    @Option(help: "A 429's retry-after longer than this (seconds) stops that deployment instead of waiting.")
    var maxRetryAfter: Double = 120

    @Option(help: .hidden)
    var timeScale: Double = 1

    func validate() throws {
        for (name, value) in [("--tpm", tpm), ("--rpm", rpm), ("--ptu", ptu)] {
            if let value, value < 1 {
                throw ValidationError("\(name) must be a whole number of at least 1, not \(value)")
            }
        }
        if !(timeout.isFinite && timeout > 0) {
            throw ValidationError("--timeout must be a number of seconds above 0, not \(timeout)")
        }
        if !(maxRetryAfter.isFinite && maxRetryAfter >= 0) {
            throw ValidationError("--max-retry-after must be a number of seconds of at least 0, not \(maxRetryAfter)")
        }
        if !(timeScale.isFinite && timeScale > 0) { throw ValidationError("--time-scale must be above 0") }
    }

    enum APIShape: String, ExpressibleByArgument, CaseIterable {
        case azure
        case azureV1 = "azure-v1"
        case openai

        func deployment(apiVersion: String) -> Deployment.API {
            switch self {
            case .azure: .azure(apiVersion: apiVersion)
            case .azureV1: .azureV1
            case .openai: .openAICompatible
            }
        }
    }

    enum Kind: String, ExpressibleByArgument, CaseIterable {
        case standard, provisioned
    }

    /// The deployment (or pool) the command line chooses: `--deployment`, or the only deployment there is.
    func chosen(among entries: [DeploymentsFile.Entry]) -> String? {
        deployment ?? (entries.count == 1 ? entries.first?.name : nil)
    }

    /// The deployments file to read, if any.
    func deploymentsFile(database: String) -> String? {
        if let deployments { return deployments }
        return endpoint == nil ? Self.fileNextTo(database: database) : nil
    }

    /// Refuses an implicit deployments file that would send credentials to a host nobody named.
    static func checkImplicit(_ entries: [DeploymentsFile.Entry], path: String) throws {
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

    /// deployments.yaml next to the database, if there is one.
    static func fileNextTo(database: String) -> String? {
        let path = ((database as NSString).deletingLastPathComponent as NSString)
            .appendingPathComponent("deployments.yaml")
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    /// The deployment entries (secrets unresolved), the pools and the model catalog (with the file's
    /// overrides): from the file, or one entry from the flags.
    func entries(database: String, pipeline: PipelineDefinition?, simulated: Bool) throws -> (
        entries: [DeploymentsFile.Entry], pools: [String: [String]], catalog: ModelCatalog
    ) {
        try entries(file: loadFile(database: database), pipeline: pipeline, simulated: simulated, database: database)
    }

    /// The deployments file that applies, read (nil when the flags name the deployment or there is none).
    func loadFile(database: String) throws -> DeploymentsFile? {
        guard endpoint == nil, let path = deploymentsFile(database: database) else { return nil }
        return try DeploymentsFile.load(path)
    }

    /// The entries, pools and catalog of a file read with ``loadFile(database:)``.
    ///
    /// A file found next to the database (not given with `--deployments`) is said on stderr, and must
    /// not send credentials where nobody asked: its endpoints must be Azure OpenAI's own hosts,
    /// loopback or AZURE_OPENAI_ENDPOINT's host, and its key variables look like API keys (a planted
    /// file must not send another secret to another origin). Anything else needs `--deployments`.
    func entries(file: DeploymentsFile?, pipeline: PipelineDefinition?, simulated: Bool, database: String)
        throws -> (entries: [DeploymentsFile.Entry], pools: [String: [String]], catalog: ModelCatalog)
    {
        var entries: [DeploymentsFile.Entry]
        var pools: [String: [String]] = [:]
        var catalog = ModelCatalog.builtIn
        if let file {
            catalog = file.catalog
            entries = try file.selection(profile: profile)
            if deployments == nil, let path = Self.fileNextTo(database: database) {
                Terminal.status("deployments from \(path) (found next to the database)")
                if !simulated { try Self.checkImplicit(entries, path: path) }
            } else if let deployments {
                Terminal.status("deployments from \(deployments)")
            }
            let names = Set(entries.map(\.name))
            pools = file.pools.filter { $0.value.allSatisfy(names.contains) }
        } else {
            entries = [try flagEntry(pipeline: pipeline, simulated: simulated)]
        }
        try applyConcurrency(&entries)
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
        }
        let billing: Billing
        do {
            billing = try Billing(kind: quotaKind, sku: sku)
        } catch let error as SluiceError {
            throw ValidationError("--sku \(sku ?? ""): \(error.message)")
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
            derivedRPM: derived, timeoutSeconds: timeout, spillover: nil, billing: billing)
    }

    private func applyConcurrency(_ entries: inout [DeploymentsFile.Entry]) throws {
        for item in concurrency {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard let value = Int(parts.last ?? ""), value >= 1 else {
                throw ValidationError("--concurrency: '\(item)' is not N or NAME=N with N ≥ 1")
            }
            if parts.count == 2 {
                guard let index = entries.firstIndex(where: { $0.name == parts[0] }) else {
                    throw ValidationError(
                        "--concurrency: no deployment '\(parts[0])' (have: \(entries.map(\.name).joined(separator: ", ")))"
                    )
                }
                entries[index].quota.maxConcurrency = value
            } else {
                for index in entries.indices { entries[index].quota.maxConcurrency = value }
            }
        }
    }

    /// Starts the built-in simulator with deployments mirroring the entries, and points them at it.
    func startSimulator(for entries: inout [DeploymentsFile.Entry], catalog: ModelCatalog) async throws
        -> SimulatorServer
    {
        let simulator = try await SimulatorServer.start(
            configuration: SimulatorConfiguration(
                deployments: Self.simulated(entries, catalog: catalog), baseLatency: 0.05, perTokenLatency: 0.002,
                speedUp: timeScale))
        Terminal.status("simulator listening on \(simulator.endpoint)")
        for index in entries.indices {
            entries[index].endpoint = simulator.endpoint
            entries[index].auth = .none
        }
        return simulator
    }

    /// The deployments by name with their secrets read from the environment (the simulator's key when simulated).
    static func resolve(_ entries: [DeploymentsFile.Entry], simulated: Bool) throws -> [String: Deployment] {
        let environment = ProcessInfo.processInfo.environment
        var deployments: [String: Deployment] = [:]
        for entry in entries {
            var resolved = try entry.resolve(environment: environment)
            if simulated { resolved.authentication = .apiKey("sim-key") }
            deployments[entry.name] = resolved
        }
        return deployments
    }

    /// The simulator's deployments mirroring the entries' limits (standard TPM/RPM, provisioned capacity).
    static func simulated(_ entries: [DeploymentsFile.Entry], catalog: ModelCatalog) -> [SimulatorConfiguration
        .Deployment]
    {
        entries.map { entry in
            let kind: SimulatorConfiguration.Deployment.Kind
            switch entry.quota.kind {
            case .standard(let tpm?, let rpm):
                kind = .standard(
                    tokensPerMinute: tpm, requestsPerMinute: rpm ?? max(1, tpm * 6 / 1000), rpmWindowSeconds: 1)
            case .standard:
                kind = .unlimited
            case .provisioned(_, let tpm):
                kind = .provisioned(
                    tokensPerMinute: tpm ?? 150_000,
                    outputTokenWeight: catalog.facts(for: entry.model ?? "")?.outputTokenWeight ?? 4, bucketSeconds: 10)
            }
            var deployment = SimulatorConfiguration.Deployment(
                name: entry.deployment, kind: kind, model: entry.model ?? "gpt-4o-2024-08-06")
            if let facts = catalog.facts(for: deployment.model) { deployment.contextWindow = facts.contextWindow }
            return deployment
        }
    }
}
