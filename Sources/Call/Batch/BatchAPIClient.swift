import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SluiceCore

/// The Files and Batches API of a batch deployment, in the deployment's URL shape:
/// `{endpoint}/openai/{files|batches}…?api-version=V` (`azure`), `{endpoint}/openai/v1/…`
/// (`azure-v1`) or `{endpoint}/v1/…` (OpenAI-compatible). The building block of the batch lane.
///
/// Redirects are never followed (they would carry the key elsewhere); every body read is bounded;
/// every failure is a ``Failure`` naming the request, the status and the service's error code.
public final class BatchAPIClient: Sendable {
    /// A file of the Files API.
    public struct File: Sendable, Hashable {
        public var id: String
        /// `pending`, `processed` (or `uploaded`, `error`, as services say).
        public var status: String
        public var bytes: Int
        public var filename: String
        public var purpose: String
    }

    /// How many of a batch's requests are done.
    public struct RequestCounts: Sendable, Hashable {
        public var total = 0
        public var completed = 0
        public var failed = 0

        /// Counts as given.
        public init(total: Int = 0, completed: Int = 0, failed: Int = 0) {
            (self.total, self.completed, self.failed) = (total, completed, failed)
        }
    }

    /// A validation error of a batch (`token_limit_exceeded`, `duplicate_custom_id`, …).
    public struct LineError: Sendable, Hashable {
        public var code: String
        public var message: String
        public var line: Int?
    }

    /// A batch of the Batches API.
    public struct Batch: Sendable, Hashable {
        public var id: String
        /// `validating`, `in_progress`, `finalizing`, `completed`, `failed`, `expired`, `cancelling`,
        /// `cancelled`.
        public var status: String
        public var inputFileID: String
        public var outputFileID: String?
        public var errorFileID: String?
        public var createdAt: Double
        public var requestCounts: RequestCounts
        public var errors: [LineError]
        public var metadata: [String: String]

        /// Whether it will change no more.
        public var isTerminal: Bool { ["completed", "failed", "expired", "cancelled"].contains(status) }
    }

    /// A request that did not get the answer it asked for.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        /// The HTTP status, when one came back.
        public var status: Int?
        /// The service's error code (`fileNotFound`, `invalid_request_error`, …).
        public var code: String?
        /// What went wrong, naming the request.
        public var message: String
        public var description: String { message }
    }

    private let client: HTTPClient
    private let deployment: Deployment
    /// The largest JSON answer read; a file's content has its own bound per call.
    static let maxJSONBytes = 8 << 20

    /// A client of `deployment`'s Files and Batches API.
    public init(deployment: Deployment) {
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .toDeployments)
        self.deployment = deployment
    }

    /// Shuts the connection pool down; call once when done.
    public func shutdown() async throws { try await client.shutdown() }

    /// The URL of a Files or Batches API path (`files`, `batches/{id}/cancel`) with its query.
    public func url(_ path: String, query: [String: String] = [:]) -> String {
        Self.url(of: deployment, path, query: query)
    }

    /// The URL of a Files or Batches API path of a deployment, with its query.
    public static func url(of deployment: Deployment, _ path: String, query: [String: String] = [:]) -> String {
        var base = deployment.endpoint
        while base.hasSuffix("/") { base.removeLast() }
        var parameters = query
        switch deployment.api {
        case .azure(let version):
            base += "/openai/" + path
            parameters["api-version"] = version
        case .azureV1: base += "/openai/v1/" + path
        case .openAICompatible: base += (base.hasSuffix("/v1") ? "/" : "/v1/") + path
        }
        guard !parameters.isEmpty else { return base }
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
        let items = parameters.sorted { $0.key < $1.key }.map { key, value in
            "\(key)=\(value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value)"
        }
        return base + "?" + items.joined(separator: "&")
    }

    // MARK: Files

    /// Uploads a batch input file (`multipart/form-data`, `purpose=batch`).
    public func upload(_ content: Data, filename: String) async throws(Failure) -> File {
        let boundary = "sluice-\(UUID().uuidString.lowercased())"
        let safeName = filename.filter { $0 != "\"" && $0 != "\r" && $0 != "\n" }
        var body = ByteBuffer()
        body.reserveCapacity(content.count + 512)
        body.writeString("--\(boundary)\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n")
        body.writeString(
            "--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(safeName)\"\r\nContent-Type: application/jsonl\r\n\r\n"
        )
        body.writeBytes(content)
        body.writeString("\r\n--\(boundary)--\r\n")
        let object = try await json(
            .POST, "files", body: body, contentType: "multipart/form-data; boundary=\(boundary)",
            doing: "uploading \(safeName)")
        return try Self.file(object, doing: "uploading \(safeName)")
    }

    /// A file's metadata (its `status`: `pending` until it may be used).
    public func file(_ id: String) async throws(Failure) -> File {
        try Self.file(
            try await json(.GET, "files/\(Self.segment(id))", doing: "reading file \(id)"), doing: "reading file \(id)")
    }

    /// A file's content, at most `limit` bytes.
    public func content(_ id: String, limit: Int) async throws(Failure) -> Data {
        try await send(.GET, "files/\(Self.segment(id))/content", limit: limit, doing: "downloading file \(id)").data
    }

    /// Deletes a file (one already gone is not an error).
    public func deleteFile(_ id: String) async throws(Failure) {
        do {
            _ = try await json(.DELETE, "files/\(Self.segment(id))", doing: "deleting file \(id)")
        } catch  where error.status == 404 {
            return
        }
    }

    // MARK: Batches

    /// Creates a batch of `/chat/completions` requests from a processed input file, within 24 h.
    public func createBatch(inputFileID: String, metadata: [String: String] = [:]) async throws(Failure) -> Batch {
        var request: [String: Any] = [
            "input_file_id": inputFileID, "endpoint": "/chat/completions", "completion_window": "24h",
        ]
        if !metadata.isEmpty { request["metadata"] = metadata }
        let body = (try? JSONSerialization.data(withJSONObject: request, options: [.sortedKeys])) ?? Data()
        let doing = "creating a batch of \(inputFileID)"
        return try Self.batch(
            try await json(
                .POST, "batches", body: ByteBuffer(bytes: body), contentType: "application/json", doing: doing),
            doing: doing)
    }

    /// A batch's state now.
    public func batch(_ id: String) async throws(Failure) -> Batch {
        try Self.batch(
            try await json(.GET, "batches/\(Self.segment(id))", doing: "reading batch \(id)"),
            doing: "reading batch \(id)")
    }

    /// Asks for a batch to be cancelled (it goes through `cancelling`).
    public func cancel(_ id: String) async throws(Failure) -> Batch {
        let doing = "cancelling batch \(id)"
        return try Self.batch(try await json(.POST, "batches/\(Self.segment(id))/cancel", doing: doing), doing: doing)
    }

    /// One page of the batches, newest first: up to `limit` after the batch `after`.
    public func batches(after: String? = nil, limit: Int = 100) async throws(Failure) -> (
        batches: [Batch], hasMore: Bool, lastID: String?
    ) {
        var query = ["limit": String(min(100, max(1, limit)))]
        if let after { query["after"] = after }
        let object = try await json(.GET, "batches", query: query, doing: "listing batches")
        let data = object["data"] as? [[String: Any]] ?? []
        let batches = try data.map { (item) throws(Failure) in try Self.batch(item, doing: "listing batches") }
        return (batches, object["has_more"] as? Bool ?? false, object["last_id"] as? String)
    }

    /// One page of the files, newest first: up to `limit` after the file `after`.
    public func files(after: String? = nil, limit: Int = 100) async throws(Failure) -> (
        files: [File], hasMore: Bool, lastID: String?
    ) {
        var query = ["limit": String(min(100, max(1, limit))), "purpose": "batch"]
        if let after { query["after"] = after }
        let object = try await json(.GET, "files", query: query, doing: "listing files")
        let data = object["data"] as? [[String: Any]] ?? []
        let files = try data.map { (item) throws(Failure) in try Self.file(item, doing: "listing files") }
        return (files, object["has_more"] as? Bool ?? false, object["last_id"] as? String ?? files.last?.id)
    }

    /// The newest file of this name, looking through at most `pages` pages of the list.
    public func file(named name: String, pages: Int = 50) async throws(Failure) -> File? {
        var after: String?
        for _ in 0..<max(1, pages) {
            let page = try await files(after: after)
            if let found = page.files.first(where: { $0.filename == name }) { return found }
            guard page.hasMore, let last = page.lastID else { return nil }
            after = last
        }
        return nil
    }

    /// The newest batch whose metadata has `key: value`, looking through at most `pages` pages.
    public func batch(metadata key: String, _ value: String, pages: Int = 50) async throws(Failure) -> Batch? {
        var after: String?
        for _ in 0..<max(1, pages) {
            let page = try await batches(after: after)
            if let found = page.batches.first(where: { $0.metadata[key] == value }) { return found }
            guard page.hasMore, let last = page.lastID ?? page.batches.last?.id else { return nil }
            after = last
        }
        return nil
    }

    // MARK: Requests

    private func json(
        _ method: HTTPMethod, _ path: String, query: [String: String] = [:], body: ByteBuffer? = nil,
        contentType: String? = nil, doing: String
    ) async throws(Failure) -> [String: Any] {
        let (status, data) = try await send(
            method, path, query: query, body: body, contentType: contentType, limit: Self.maxJSONBytes, doing: doing)
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw Failure(status: status, code: nil, message: "\(doing): the answer is not a JSON object")
        }
        return object
    }

    private func send(
        _ method: HTTPMethod, _ path: String, query: [String: String] = [:], body: ByteBuffer? = nil,
        contentType: String? = nil, limit: Int, doing: String
    ) async throws(Failure) -> (status: Int, data: Data) {
        var request = HTTPClientRequest(url: url(path, query: query))
        request.method = method
        if let contentType { request.headers.add(name: "content-type", value: contentType) }
        do {
            try await deployment.authentication.authorize(&request)
        } catch {
            throw Failure(status: nil, code: nil, message: "\(doing): no credentials: \(error)")
        }
        if let body { request.body = .bytes(body) }
        let response: HTTPClientResponse
        let data: Data
        do {
            response = try await client.execute(
                request, timeout: .milliseconds(Int64(deployment.timeoutSeconds * 1000)))
            data = Data(buffer: try await response.body.collect(upTo: max(1, limit)))
        } catch {
            throw Failure(status: nil, code: nil, message: "\(doing): \(error)")
        }
        let status = Int(response.status.code)
        guard (200..<300).contains(status) else {
            let error = ((try? JSONSerialization.jsonObject(with: data)) as? [String: Any])?["error"] as? [String: Any]
            let code = error?["code"] as? String
            let said = (error?["message"] as? String).map { ": " + Printable.escaped(String($0.prefix(500))) } ?? ""
            let redirect = (300..<400).contains(status) ? " (a redirect; not followed with credentials)" : ""
            throw Failure(
                status: status, code: code,
                message: "\(doing): HTTP \(status)\(code.map { " \($0)" } ?? "")\(said)\(redirect)")
        }
        return (status, data)
    }

    /// An id as one path segment (ids come from the service: nothing of them may add a path or query).
    private static func segment(_ id: String) -> String {
        id.addingPercentEncoding(
            withAllowedCharacters: CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-_."))) ?? id
    }

    private static func file(_ object: [String: Any], doing: String) throws(Failure) -> File {
        guard let id = object["id"] as? String else {
            throw Failure(status: nil, code: nil, message: "\(doing): the answer names no file id")
        }
        return File(
            id: id, status: object["status"] as? String ?? "", bytes: object["bytes"] as? Int ?? 0,
            filename: object["filename"] as? String ?? "", purpose: object["purpose"] as? String ?? "")
    }

    private static func batch(_ object: [String: Any], doing: String) throws(Failure) -> Batch {
        guard let id = object["id"] as? String, let status = object["status"] as? String else {
            throw Failure(status: nil, code: nil, message: "\(doing): the answer names no batch id and status")
        }
        let counts = object["request_counts"] as? [String: Any] ?? [:]
        let errors = ((object["errors"] as? [String: Any])?["data"] as? [[String: Any]] ?? []).map {
            LineError(
                code: $0["code"] as? String ?? "", message: $0["message"] as? String ?? "", line: $0["line"] as? Int)
        }
        return Batch(
            id: id, status: status, inputFileID: object["input_file_id"] as? String ?? "",
            outputFileID: object["output_file_id"] as? String, errorFileID: object["error_file_id"] as? String,
            createdAt: (object["created_at"] as? NSNumber)?.doubleValue ?? 0,
            requestCounts: RequestCounts(
                total: counts["total"] as? Int ?? 0, completed: counts["completed"] as? Int ?? 0,
                failed: counts["failed"] as? Int ?? 0),
            errors: errors, metadata: (object["metadata"] as? [String: Any] ?? [:]).compactMapValues { $0 as? String })
    }
}

extension HTTPClient.Configuration {
    /// How Sluice talks to a deployment: a 10 s connect timeout, bounded decompression, and no
    /// redirects (one would carry the key and the document to another origin).
    static var toDeployments: HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(10))
        configuration.decompression = .enabled(limit: .ratio(50))
        configuration.redirectConfiguration = .disallow
        return configuration
    }
}

extension Deployment.Authentication {
    /// Adds the credentials to a request: `api-key`, or a bearer token (an Entra ID token fetched now).
    func authorize(_ request: inout HTTPClientRequest) async throws {
        switch self {
        case .apiKey(let key): request.headers.add(name: "api-key", value: key)
        case .bearer(let token): request.headers.add(name: "authorization", value: "Bearer \(token)")
        case .entra(let source): request.headers.add(name: "authorization", value: "Bearer \(try await source.token())")
        case .none: break
        }
    }
}
