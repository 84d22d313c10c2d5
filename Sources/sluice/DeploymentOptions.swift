import ArgumentParser
import Pipeline

/// Which deployments a command calls (``DeploymentSelection``), as options.
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
    var api: DeploymentSelection.APIShape = .azure

    @Option(help: "The api-version of the azure shape (default: $OPENAI_API_VERSION or 2024-10-21).")
    var apiVersion: String?

    @Option(help: "The environment variable holding the API key.")
    var apiKeyEnv = "AZURE_OPENAI_API_KEY"

    @Option(
        help:
            "standard (paced under TPM/RPM), provisioned (kept full) or batch (Global Batch: the Files and Batches API at the batch price)."
    )
    var kind: DeploymentSelection.Kind = .standard

    @Option(help: "The deployment's model, for the RPM ratio and PTU capacity (default: the pipeline's).")
    var model: String?

    @Option(help: "Tokens per minute of a standard deployment (without it, limits are learned from headers and 429s).")
    var tpm: Int?

    @Option(help: "Requests per minute (default: derived from --tpm with the model's ratio).")
    var rpm: Int?

    @Option(help: "PTUs of a provisioned deployment.")
    var ptu: Int?

    @Option(help: "A batch deployment's quota of enqueued tokens (required with --kind batch).")
    var enqueuedTokens: Int?

    @Option(help: "Seconds between looks at a batch in progress (default 60, as Microsoft recommends).")
    var batchPoll: Double?

    @Flag(help: "Keep batch input and output files on the service (default: deleted once collected).")
    var keepBatchFiles = false

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
        for (name, value) in [("--tpm", tpm), ("--rpm", rpm), ("--ptu", ptu), ("--enqueued-tokens", enqueuedTokens)] {
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
        if let batchPoll, !(batchPoll.isFinite && batchPoll >= 0.01 && batchPoll <= 86_400) {
            throw ValidationError("--batch-poll must be a number of seconds from 0.01 to 86400, not \(batchPoll)")
        }
    }

    /// The values as the library takes them.
    var selection: DeploymentSelection {
        var selection = DeploymentSelection()
        selection.deployments = deployments
        selection.profile = profile
        selection.endpoint = endpoint
        selection.deployment = deployment
        selection.api = api
        selection.apiVersion = apiVersion
        selection.apiKeyEnv = apiKeyEnv
        selection.kind = kind
        selection.model = model
        selection.tpm = tpm
        selection.rpm = rpm
        selection.ptu = ptu
        selection.enqueuedTokens = enqueuedTokens
        selection.batchPoll = batchPoll
        selection.keepBatchFiles = keepBatchFiles
        selection.sku = sku
        selection.concurrency = concurrency
        selection.timeout = timeout
        selection.maxRetryAfter = maxRetryAfter
        selection.timeScale = timeScale
        return selection
    }
}

extension DeploymentSelection.APIShape: ExpressibleByArgument {}
extension DeploymentSelection.Kind: ExpressibleByArgument {}
