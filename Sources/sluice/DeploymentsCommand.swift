import ArgumentParser
import Call
import Foundation
import Pipeline
import Scheduler
import SluiceCore

struct DeploymentsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deployments",
        abstract: "List the deployments a run would use, with their limits (never their secrets).")

    @OptionGroup var database: DatabaseOptions

    @OptionGroup(title: "Deployments") var target: DeploymentOptions

    @Flag(help: "Print as JSON.")
    var json = false

    struct Listing: Encodable {
        var name: String
        var endpoint: String
        var url: String
        var deployment: String
        var model: String?
        var kind: String
        var tokensPerMinute: Int?
        var requestsPerMinute: Int?
        var requestsPerMinuteDerived: Bool
        var ptu: Int?
        var maxConcurrency: Int
        var priority: Int
        var weight: Double
        var auth: String
        var spillover: String?
        var enqueuedTokens: Int?
        var batchPollSeconds: Double?
    }

    func run() async throws {
        try await reportingErrors {
            let entries = try target.selection.entries(
                database: database.database, pipeline: nil, simulated: false, note: Terminal.status
            ).entries
            let listings = entries.map { entry -> Listing in
                var listing = Listing(
                    name: entry.name, endpoint: entry.endpoint, url: "", deployment: entry.deployment,
                    model: entry.model,
                    kind: entry.batch != nil ? "batch" : entry.quota.isProvisioned ? "provisioned" : "standard",
                    tokensPerMinute: nil, requestsPerMinute: nil, requestsPerMinuteDerived: entry.derivedRPM, ptu: nil,
                    maxConcurrency: entry.quota.maxConcurrency, priority: entry.quota.priority,
                    weight: entry.quota.weight, auth: entry.auth.description, spillover: entry.spillover)
                switch entry.quota.kind {
                case .standard(let tpm, let rpm):
                    listing.tokensPerMinute = tpm
                    listing.requestsPerMinute = rpm
                case .provisioned(let ptu, let tpm):
                    listing.ptu = ptu
                    listing.tokensPerMinute = tpm
                }
                let deployment = Deployment(
                    name: entry.name, endpoint: entry.endpoint, api: entry.api, deployment: entry.deployment,
                    authentication: .none)
                listing.url = deployment.url
                if let batch = entry.batch {
                    listing.enqueuedTokens = batch.enqueuedTokens
                    listing.batchPollSeconds = batch.pollSeconds
                    listing.url = BatchAPIClient.url(of: deployment, "batches")
                }
                return listing
            }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
                encoder.keyEncodingStrategy = .convertToSnakeCase
                print(String(decoding: try encoder.encode(listings), as: UTF8.self))
                return
            }
            print("name                 kind         priority weight  tokens/min  requests/min  PTU  concurrency  auth")
            for listing in listings {
                let rpm = listing.requestsPerMinute.map { "\($0)" + (listing.requestsPerMinuteDerived ? "*" : "") }
                print(
                    listing.name.padding(toLength: 20, withPad: " ", startingAt: 0) + " "
                        + listing.kind.padding(toLength: 12, withPad: " ", startingAt: 0) + " "
                        + String(listing.priority).leftPadded(8) + " " + String(format: "%6.1f", listing.weight) + " "
                        + (listing.tokensPerMinute.map(String.init) ?? (listing.kind == "batch" ? "-" : "learned"))
                        .leftPadded(11) + " "
                        + (rpm ?? (listing.kind == "standard" ? "learned" : "-")).leftPadded(13) + " "
                        + (listing.ptu.map(String.init) ?? "-").leftPadded(4)
                        + " " + String(listing.maxConcurrency).leftPadded(12) + "  " + listing.auth)
                print("    " + (listing.url.isEmpty ? listing.endpoint : listing.url))
                if let tokens = listing.enqueuedTokens {
                    print(
                        "    enqueued-token quota \(tokens), polled every \(String(format: "%g", listing.batchPollSeconds ?? 60)) s, batch price"
                    )
                }
            }
            if listings.contains(where: \.requestsPerMinuteDerived) {
                print("* requests/min derived from tokens/min with the model's ratio")
            }
        }
    }
}

extension DeploymentsFile.Entry.Auth {
    /// How it authenticates, without any secret.
    var description: String {
        switch self {
        case .apiKeyEnvironment(let variable): "api-key from $\(variable)"
        case .bearerEnvironment(let variable): "bearer token from $\(variable)"
        case .entra(let method): "Entra ID (\(method.rawValue))"
        case .none: "none"
        }
    }
}

/// The per-deployment table of `status` and the run summary.
func deploymentLines(_ statuses: [DeploymentStatus]) -> [String] {
    guard !statuses.isEmpty else { return [] }
    var lines = [
        "deployment           in flight  concurrency  tokens/min (last 60 s) / limit  charge ratio   429s  failures  mean latency  state"
    ]
    for status in statuses {
        let limit = status.tokensPerMinuteLimit.map { " / \($0)" } ?? " / ?"
        let ratio = status.chargeRatio.map { String(format: "%.3f", $0) } ?? "-"
        var state = status.state
        if let others = status.othersTokensPerMinute, others > 0 { state += "; others use \(others) tokens/min" }
        if let utilization = status.utilization { state += String(format: "; utilization %.0f%%", utilization * 100) }
        lines.append(
            status.name.padding(toLength: 20, withPad: " ", startingAt: 0) + " " + String(status.inFlight).leftPadded(9)
                + " " + String(status.concurrency).leftPadded(12) + " "
                + ("\(status.tokensLastMinute)" + limit).leftPadded(32) + " " + ratio.leftPadded(12) + " "
                + String(status.rateLimited).leftPadded(6) + " " + String(status.failures).leftPadded(9) + " "
                + String(format: "%11.2fs", status.meanLatencySeconds) + "  " + state)
    }
    lines.append(
        "charge ratio: what the service charges per token of Sluice's prompt estimate (standard: learned from x-ratelimit-remaining-tokens; provisioned: from the usage)"
    )
    return lines
}
