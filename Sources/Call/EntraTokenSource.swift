import AsyncHTTPClient
import Foundation
import NIOCore
import SluiceCore
import Synchronization
import Tools

/// Microsoft Entra ID access tokens for Azure OpenAI (scope `https://cognitiveservices.azure.com`),
/// fetched when first needed and again five minutes before they expire. Tokens live in memory only.
public final class EntraTokenSource: Sendable, Hashable {
    /// Where tokens come from.
    public enum Method: String, Sendable, Hashable {
        /// `az account get-access-token` (a developer machine signed in with `az login`).
        case azureCLI = "azure-cli"
        /// The Azure Instance Metadata Service of a VM, container or function with a managed identity.
        case managedIdentity = "managed-identity"
    }

    /// Where tokens come from.
    public let method: Method
    /// The current token, or the fetch every caller waits for (one `az` process or one request, not one per call).
    private let current = Mutex<Task<(token: String, expires: Date), any Error>?>(nil)
    static let resource = "https://cognitiveservices.azure.com"
    /// How long `az` may take to answer (it may refresh its own credentials over the network).
    static let cliTimeout: Duration = .seconds(60)

    /// A source of tokens got by `method`.
    public init(method: Method) { self.method = method }

    /// A valid token, fetching a new one when the cached one is missing or about to expire.
    public func token() async throws -> String { try await token(refetch: true) }

    private func token(refetch: Bool) async throws -> String {
        let task = current.withLock { task in
            if let existing = task { return existing }
            let fetching = Task { try await self.fetch() }
            task = fetching
            return fetching
        }
        do {
            let value = try await task.value
            if value.expires.timeIntervalSinceNow > 300 || !refetch { return value.token }
            // About to expire: the first caller to notice starts the next fetch.
            current.withLock { if $0 == task { $0 = nil } }
        } catch {
            current.withLock { if $0 == task { $0 = nil } }
            throw error
        }
        return try await token(refetch: false)
    }

    private func fetch() async throws -> (token: String, expires: Date) {
        switch method {
        case .azureCLI:
            let tool = ExternalTool(
                "az", arguments: ["account", "get-access-token", "--resource", Self.resource, "--output", "json"],
                timeout: Self.cliTimeout, outputLimit: 1 << 20)
            let outcome: ExternalTool.Outcome
            do {
                outcome = try await tool.run()
            } catch {
                switch error.reason {
                case .notFound:
                    throw EntraError(message: "az (the Azure CLI) was not found on PATH; install it and run `az login`")
                case .cancelled: throw CancellationError()
                default: throw EntraError(message: "az account get-access-token: \(error.message)")
                }
            }
            guard outcome.succeeded,
                let object = try? JSONSerialization.jsonObject(with: Data(outcome.output)) as? [String: Any],
                let token = object["accessToken"] as? String
            else {
                // The first line of what az said (its own words, never a token: it failed).
                let said = outcome.errorText.split(whereSeparator: \.isNewline).first.map {
                    ": " + Printable.escaped(String($0.prefix(300)))
                }
                let status = outcome.exitStatus.map { "exit \($0)" } ?? "signal \(outcome.signal ?? 0)"
                throw EntraError(
                    message: "az account get-access-token failed (\(status))\(said ?? ""); run `az login` first")
            }
            let expires = (object["expires_on"] as? Int).map { Date(timeIntervalSince1970: Double($0)) }
            return (token, expires ?? Date().addingTimeInterval(3_000))
        case .managedIdentity:
            let url =
                "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=" + Self.resource
            var request = HTTPClientRequest(url: url)
            request.headers.add(name: "Metadata", value: "true")
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
            let body = try await response.body.collect(upTo: 1 << 20)
            guard response.status == .ok,
                let object = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any],
                let token = object["access_token"] as? String
            else {
                throw EntraError(message: "the managed identity endpoint answered HTTP \(response.status.code)")
            }
            let expires = (object["expires_on"] as? String).flatMap(Double.init).map(Date.init(timeIntervalSince1970:))
            return (token, expires ?? Date().addingTimeInterval(3_000))
        }
    }

    public static func == (lhs: EntraTokenSource, rhs: EntraTokenSource) -> Bool { lhs === rhs }
    public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }
}

/// A failure to get an Entra ID token.
public struct EntraError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, naming the method.
    public var message: String
    public var description: String { message }
}
