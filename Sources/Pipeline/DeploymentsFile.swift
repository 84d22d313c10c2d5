import Call
import Catalog
import Foundation
import Scheduler
import SluiceCore
import Yams

/// The deployments a run may call: `deployments.yaml`.
///
/// ```yaml
/// default_profile: prod
/// profiles:                       # which deployments a profile uses
///   prod: [gpt4o-ptu, gpt4o-paygo]
///   test: [gpt4o-paygo]
/// pools:                          # a pipeline's `deployment:` may name a pool
///   gpt4o: [gpt4o-ptu, gpt4o-paygo]
/// deployments:
///   gpt4o-ptu:
///     endpoint: https://contoso-eastus.openai.azure.com
///     api: azure                  # azure | azure-v1 | openai
///     api_version: 2024-10-21
///     deployment: gpt-4o-ptu      # default: the entry's name
///     model: gpt-4o
///     auth: {api_key_env: AZURE_OPENAI_API_KEY}   # or bearer_env: NAME, or entra: azure-cli | managed-identity
///     kind: provisioned
///     ptu: 50
///     priority: 1
///     max_concurrency: 128
///     spillover: gpt4o-paygo      # optional: Azure's x-ms-spillover-deployment
///   gpt4o-paygo:
///     endpoint: https://contoso-eastus.openai.azure.com
///     model: gpt-4o
///     kind: standard
///     tpm: 450000                 # rpm: derived from the model when omitted
///     priority: 2
///     sku: global                 # how it is priced: global | data_zone | standard | batch
///                                 # (provisioned: global | data_zone | regional, per PTU-hour)
///   gpt4o-batch:                  # a Global Batch deployment: the batch lane, at the batch price
///     endpoint: https://contoso-eastus.openai.azure.com
///     model: gpt-4o
///     kind: batch
///     enqueued_tokens: 5000000    # its quota of enqueued tokens (required)
///     batch_poll: 60              # seconds between looks at a batch in progress
/// models:                         # override or add catalog facts (context, prices, PTU rates, ...)
///   gpt-4o: {prices: {global: {input: 2.5, cached_input: 1.25, output: 10}}}
/// ```
/// Secrets never go in the file: only the names of the environment variables that hold them.
public struct DeploymentsFile: Sendable {
    /// One entry, secrets not yet resolved.
    public struct Entry: Sendable, Hashable {
        /// Where an entry's credentials come from.
        public enum Auth: Sendable, Hashable {
            case apiKeyEnvironment(String)
            case bearerEnvironment(String)
            case entra(EntraTokenSource.Method)
            case none
        }

        /// The name pipelines and pools use.
        public var name: String
        /// The resource's URL, e.g. https://my-resource.openai.azure.com.
        public var endpoint: String
        /// The URL shape.
        public var api: Deployment.API
        /// The deployment's name at the endpoint.
        public var deployment: String
        /// The deployed model (nil: the pipeline's).
        public var model: String?
        /// Where its credentials come from (never the secret itself).
        public var auth: Auth
        /// Its kind, limits and routing, as the scheduler takes them.
        public var quota: DeploymentQuota
        /// Whether the RPM was derived from the TPM and the model (not given).
        public var derivedRPM: Bool
        /// Per-request timeout in seconds.
        public var timeoutSeconds: Double
        /// The deployment Azure spills over to (`x-ms-spillover-deployment`).
        public var spillover: String?
        /// How calls are priced.
        public var billing: Billing
        /// A Global Batch deployment's quota and polling (`kind: batch`); nil: online.
        public var batch: BatchSettings?

        /// Creates it from its fields.
        public init(
            name: String, endpoint: String, api: Deployment.API, deployment: String, model: String?, auth: Auth,
            quota: DeploymentQuota, derivedRPM: Bool, timeoutSeconds: Double, spillover: String?,
            billing: Billing = .perToken(.global), batch: BatchSettings? = nil
        ) {
            self.batch = batch
            self.name = name
            self.endpoint = endpoint
            self.api = api
            self.deployment = deployment
            self.model = model
            self.auth = auth
            self.quota = quota
            self.derivedRPM = derivedRPM
            self.timeoutSeconds = timeoutSeconds
            self.spillover = spillover
            self.billing = billing
        }
    }

    /// The deployments by name.
    public var entries: [String: Entry]
    /// Named subsets of the deployments.
    public var profiles: [String: [String]]
    /// The profile used when none is asked for.
    public var defaultProfile: String?
    /// Named groups of deployments a pipeline may spread its calls over.
    public var pools: [String: [String]]
    /// The built-in model catalog with the file's `models:` overrides.
    public var catalog: ModelCatalog

    /// Reads and checks a deployments file.
    ///
    /// - Throws: ``SluiceError`` naming the file, line and field.
    public static func load(_ path: String) throws -> DeploymentsFile {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8)
        else { throw SluiceError(.notFound, "\(path): cannot read the deployments file") }
        return try parse(text, file: path)
    }

    /// Reads and checks a deployments file's text (`file` names it in errors).
    public static func parse(_ text: String, file: String) throws -> DeploymentsFile {
        let node = try FieldReader.compose(text, file: file, code: .invalidConfiguration)
        guard let mapping = node?.mapping else {
            throw SluiceError(.invalidConfiguration, "\(file): expected a mapping with 'deployments'")
        }
        let reader = FieldReader(file: file, mapping: mapping, path: "", code: .invalidConfiguration)
        try reader.rejectUnknown(["deployments", "profiles", "default_profile", "pools", "models"])
        var catalog = ModelCatalog.builtIn
        try catalog.apply(overrides: reader.mapping("models"))
        guard let deployments = try reader.mapping("deployments"), !deployments.mapping.isEmpty else {
            throw SluiceError(.invalidConfiguration, "\(file): field 'deployments' is required (a mapping of names)")
        }
        var entries: [String: Entry] = [:]
        for key in deployments.mapping.keys {
            guard let name = key.string, let entry = try deployments.mapping(name) else { continue }
            entries[name] = try Self.entry(name, entry, catalog: catalog)
        }
        func groups(_ field: String) throws -> [String: [String]] {
            guard let section = try reader.mapping(field) else { return [:] }
            var result: [String: [String]] = [:]
            for key in section.mapping.keys {
                guard let name = key.string, let members = try section.strings(name), !members.isEmpty else {
                    throw section.error(key.string ?? "?", "must be a non-empty list of deployment names")
                }
                for member in members where entries[member] == nil {
                    throw section.error(name, "names '\(member)', which is not in 'deployments'")
                }
                result[name] = members
            }
            return result
        }
        let profiles = try groups("profiles")
        let pools = try groups("pools")
        let defaultProfile = try reader.string("default_profile")
        if let defaultProfile, profiles[defaultProfile] == nil {
            throw reader.error("default_profile", "names '\(defaultProfile)', which is not in 'profiles'")
        }
        for entry in entries.values {
            if let spillover = entry.spillover, entries[spillover] == nil {
                throw deployments.error(entry.name, "spillover names '\(spillover)', which is not in 'deployments'")
            }
        }
        return DeploymentsFile(
            entries: entries, profiles: profiles, defaultProfile: defaultProfile, pools: pools, catalog: catalog)
    }

    private static func entry(_ name: String, _ reader: FieldReader, catalog: ModelCatalog) throws -> Entry {
        try reader.rejectUnknown([
            "endpoint", "api", "api_version", "deployment", "model", "auth", "kind", "tpm", "rpm", "ptu",
            "max_concurrency", "priority", "weight", "timeout", "spillover", "sku", "enqueued_tokens", "batch_poll",
        ])
        let endpoint = try reader.string("endpoint", required: true) ?? ""
        let version = try reader.string("api_version") ?? "2024-10-21"
        let api: Deployment.API
        switch try reader.string("api") ?? "azure" {
        case "azure": api = .azure(apiVersion: version)
        case "azure-v1": api = .azureV1
        case "openai": api = .openAICompatible
        default: throw reader.error("api", "must be azure, azure-v1 or openai")
        }
        let model = try reader.string("model")
        let auth: Entry.Auth
        if let authReader = try reader.mapping("auth") {
            try authReader.rejectUnknown(["api_key_env", "bearer_env", "entra"])
            if let variable = try authReader.string("api_key_env") {
                auth = .apiKeyEnvironment(variable)
            } else if let variable = try authReader.string("bearer_env") {
                auth = .bearerEnvironment(variable)
            } else if let method = try authReader.string("entra") {
                guard let parsed = EntraTokenSource.Method(rawValue: method) else {
                    throw authReader.error("entra", "must be azure-cli or managed-identity")
                }
                auth = .entra(parsed)
            } else {
                auth = .none
            }
        } else {
            auth =
                api == .openAICompatible
                ? .bearerEnvironment("OPENAI_API_KEY") : .apiKeyEnvironment("AZURE_OPENAI_API_KEY")
        }
        let kind: DeploymentQuota.Kind
        var derived = false
        var batch: BatchSettings?
        let kindName = try reader.string("kind") ?? "standard"
        for field in ["enqueued_tokens", "batch_poll"] where kindName != "batch" && reader.node(field) != nil {
            throw reader.error(field, "is for a batch deployment (kind: batch)")
        }
        switch kindName {
        case "batch":
            // Not paced by the scheduler: its quota is of enqueued tokens, kept by the batch lane.
            kind = .standard(tokensPerMinute: nil, requestsPerMinute: nil)
            guard let tokens = try reader.int("enqueued_tokens", minimum: 1) else {
                throw reader.error(
                    "enqueued_tokens",
                    "is required for a batch deployment: its quota of enqueued tokens, as the portal shows it")
            }
            batch = BatchSettings(
                enqueuedTokens: tokens, pollSeconds: try reader.double("batch_poll", in: 0.01...86_400) ?? 60)
        case "standard":
            (kind, derived) = DeploymentQuota.Kind.standard(
                tokensPerMinute: try reader.int("tpm", minimum: 1),
                requestsPerMinute: try reader.int("rpm", minimum: 1),
                model: model ?? "", catalog: catalog)
        case "provisioned":
            kind = .provisioned(ptu: try reader.int("ptu", minimum: 1), model: model ?? "", catalog: catalog)
        default:
            throw reader.error("kind", "must be standard, provisioned or batch")
        }
        let billing: Billing
        do {
            billing = try Billing(kind: kind, sku: try reader.string("sku"), batch: batch != nil)
        } catch let error as SluiceError {
            throw reader.error("sku", error.message)
        }
        let quota = DeploymentQuota(
            name: name, kind: kind,
            maxConcurrency: try reader.int("max_concurrency", minimum: 1, maximum: 100_000)
                ?? (kind.isProvisioned ? 128 : 32),
            priority: try reader.int("priority", minimum: -1_000_000, maximum: 1_000_000) ?? 1,
            weight: try reader.double("weight", in: 0.0001...1_000_000) ?? 1
        ).withFacts(of: model ?? "", catalog: catalog)
        return Entry(
            name: name, endpoint: endpoint, api: api, deployment: try reader.string("deployment") ?? name, model: model,
            auth: auth, quota: quota, derivedRPM: derived,
            timeoutSeconds: try reader.double("timeout", in: 0.001...86_400) ?? 120,
            spillover: try reader.string("spillover"), billing: billing, batch: batch)
    }

    /// The entries of a profile (or the default profile, or all of them).
    public func selection(profile: String?) throws -> [Entry] {
        let chosen = profile ?? defaultProfile
        if let chosen {
            guard let names = profiles[chosen] else {
                throw SluiceError(
                    .invalidConfiguration,
                    "no profile '\(chosen)' (profiles: \(profiles.keys.sorted().joined(separator: ", ")))")
            }
            return names.compactMap { entries[$0] }
        }
        return entries.keys.sorted().compactMap { entries[$0] }
    }
}

extension DeploymentsFile.Entry {
    /// The deployment with its secret read from the environment (never from the file).
    public func resolve(environment: [String: String]) throws -> Deployment {
        let authentication: Deployment.Authentication
        switch auth {
        case .apiKeyEnvironment(let variable):
            guard let key = environment[variable], !key.isEmpty else {
                throw SluiceError(
                    .invalidConfiguration,
                    "deployment '\(name)': the environment variable \(variable) (its API key) is not set")
            }
            authentication = .apiKey(key)
        case .bearerEnvironment(let variable):
            guard let token = environment[variable], !token.isEmpty else {
                throw SluiceError(
                    .invalidConfiguration,
                    "deployment '\(name)': the environment variable \(variable) (its bearer token) is not set")
            }
            authentication = .bearer(token)
        case .entra(let method):
            authentication = .entra(EntraTokenSource(method: method))
        case .none:
            authentication = .none
        }
        var deployment = Deployment(
            name: name, endpoint: endpoint, api: api, deployment: self.deployment, authentication: authentication,
            timeoutSeconds: timeoutSeconds, maxConcurrency: quota.maxConcurrency)
        deployment.spilloverDeployment = spillover
        return deployment
    }
}
