import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Simulator
import SluiceTesting
import Testing

/// The simulator's Files and Batches API, over real HTTP, in both URL shapes: uploads pending then
/// processed, Azure's validation errors, the enqueued-token quota, processing over (sped-up) time,
/// shuffled output, failed lines, expiry with partial output, cancel, pagination.
@Suite struct SimulatorBatchTests {
    /// A client of one URL shape.
    struct API {
        let server: SimulatorServer
        let v1: Bool
        /// The process's shared client: nothing to shut down, so a test that fails part-way cannot
        /// leave a client behind to trap in its deinit.
        var http: HTTPClient { HTTPClient.shared }

        func url(_ path: String, _ query: String = "") -> String {
            let base = server.endpoint + (v1 ? "/openai/v1/" : "/openai/") + path
            let version = v1 ? "" : "api-version=2024-10-21"
            let parameters = [version, query].filter { !$0.isEmpty }.joined(separator: "&")
            return parameters.isEmpty ? base : base + "?" + parameters
        }

        func send(_ method: HTTPMethod, _ path: String, query: String = "", body: Data? = nil, type: String? = nil)
            async throws -> (status: Int, data: Data)
        {
            var request = HTTPClientRequest(url: url(path, query))
            request.method = method
            request.headers.add(name: "api-key", value: "sim-key")
            if let type { request.headers.add(name: "content-type", value: type) }
            if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
            let response = try await http.execute(request, timeout: .seconds(10))
            let data = Data(buffer: try await response.body.collect(upTo: 1 << 24))
            return (Int(response.status.code), data)
        }

        func json(_ method: HTTPMethod, _ path: String, query: String = "", body: [String: Any]? = nil)
            async throws -> [String: Any]
        {
            let data = try body.map { try JSONSerialization.data(withJSONObject: $0) }
            let (status, reply) = try await send(method, path, query: query, body: data, type: "application/json")
            let object = try #require(try JSONSerialization.jsonObject(with: reply) as? [String: Any])
            #expect(status == 200, "\(method) \(path): \(status) \(object)")
            return object
        }

        /// Uploads a file as the SDKs do: multipart/form-data with `purpose` and `file`.
        func upload(_ content: Data, name: String = "input.jsonl") async throws -> [String: Any] {
            let boundary = "sluice-test-\(UUID().uuidString)"
            var body = Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n".utf8)
            body += Data(
                "--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(name)\"\r\nContent-Type: application/jsonl\r\n\r\n"
                    .utf8)
            body += content + Data("\r\n--\(boundary)--\r\n".utf8)
            let (status, reply) = try await send(
                .POST, "files", body: body, type: "multipart/form-data; boundary=\(boundary)")
            #expect(status == 200, "\(String(decoding: reply, as: UTF8.self))")
            return try #require(try JSONSerialization.jsonObject(with: reply) as? [String: Any])
        }

        /// Polls until the batch's status is one of `statuses` (simulated time runs fast).
        func wait(for batch: String, until statuses: Set<String>) async throws -> [String: Any] {
            let deadline = Date().addingTimeInterval(20)
            while Date() < deadline {
                let object = try await json(.GET, "batches/\(batch)")
                if let status = object["status"] as? String, statuses.contains(status) { return object }
                try await Task.sleep(for: .milliseconds(20))
            }
            Issue.record("batch \(batch) never reached \(statuses)")
            return [:]
        }

        func content(_ file: String) async throws -> [[String: Any]] {
            let (status, data) = try await send(.GET, "files/\(file)/content")
            #expect(status == 200)
            return try data.split(separator: UInt8(ascii: "\n")).map {
                try #require(try JSONSerialization.jsonObject(with: Data($0)) as? [String: Any])
            }
        }

        func close() async throws { try await server.stop() }
    }

    /// A simulator with a batch deployment `batch` (and a standard one `online`), time × 100.
    static func api(
        v1: Bool, enqueuedTokens: Int = 1_000_000, configure: (inout SimulatorConfiguration) -> Void = { _ in }
    )
        async throws -> API
    {
        var configuration = SimulatorConfiguration(
            deployments: [
                .init(name: "batch", kind: .batch(enqueuedTokens: enqueuedTokens)),
                .init(name: "batch-2", kind: .batch(enqueuedTokens: enqueuedTokens)),
                .init(name: "online", kind: .unlimited),
            ], defaultKind: nil, baseLatency: 0, perTokenLatency: 0, speedUp: 100, replyTokens: 10)
        configuration.batches.linesPerSecond = 20
        configure(&configuration)
        return API(server: try await SimulatorServer.start(configuration: configuration), v1: v1)
    }

    static func lines(_ count: Int, model: String = "batch", prefix: String = "task", url: String = "/chat/completions")
        -> Data
    {
        let lines = (0..<count).map { index in
            let body: [String: Any] = [
                "model": model, "max_tokens": 20,
                "messages": [["role": "user", "content": "Request number \(index) of the batch test, please."]],
            ]
            let line: [String: Any] = [
                "custom_id": "\(prefix)-\(index)", "method": "POST", "url": url, "body": body,
            ]
            let data = (try? JSONSerialization.data(withJSONObject: line, options: [.sortedKeys])) ?? Data()
            return String(decoding: data, as: UTF8.self)
        }
        return Data((lines.joined(separator: "\n") + "\n").utf8)
    }

    @Test(arguments: [false, true]) func aBatchRunsToCompletionWithShuffledOutput(v1: Bool) async throws {
        // A file pending for a million simulated seconds: a batch of it is refused.
        let slow = try await Self.api(v1: v1) { $0.batches.pendingSeconds = 1_000_000 }
        let pendingID = try #require(try await slow.upload(Self.lines(3))["id"] as? String)
        let request: [String: Any] = [
            "input_file_id": pendingID, "endpoint": "/chat/completions", "completion_window": "24h",
        ]
        let (early, pendingRefusal) = try await slow.send(
            .POST, "batches", body: try JSONSerialization.data(withJSONObject: request), type: "application/json")
        #expect(early == 400 && String(decoding: pendingRefusal, as: UTF8.self).contains("pending"))
        try await slow.close()

        let api = try await Self.api(v1: v1)
        let file = try await api.upload(Self.lines(30))
        let fileID = try #require(file["id"] as? String)
        #expect(file["status"] as? String == "pending" && file["purpose"] as? String == "batch")
        var status = ""
        while status != "processed" {
            try await Task.sleep(for: .milliseconds(10))
            status = try await api.json(.GET, "files/\(fileID)")["status"] as? String ?? ""
        }
        let created = try await api.json(
            .POST, "batches",
            body: [
                "input_file_id": fileID, "endpoint": "/chat/completions", "completion_window": "24h",
                "metadata": ["sluice": "run-1"],
            ])
        let batchID = try #require(created["id"] as? String)
        #expect(created["status"] as? String == "validating")
        let running = try await api.wait(for: batchID, until: ["in_progress", "finalizing", "completed"])
        #expect((running["request_counts"] as? [String: Int])?["total"] == 30)
        let done = try await api.wait(for: batchID, until: ["completed", "failed"])
        #expect(done["status"] as? String == "completed", "\(done)")
        #expect((done["request_counts"] as? [String: Int])?["completed"] == 30)
        #expect((done["metadata"] as? [String: String])?["sluice"] == "run-1")
        let output = try await api.content(try #require(done["output_file_id"] as? String))
        let ids = output.compactMap { $0["custom_id"] as? String }
        #expect(Set(ids) == Set((0..<30).map { "task-\($0)" }))
        #expect(ids != (0..<30).map { "task-\($0)" }, "output in input order")
        for line in output {
            let response = try #require(line["response"] as? [String: Any])
            #expect(response["status_code"] as? Int == 200)
            let body = try #require(response["body"] as? [String: Any])
            let message = ((body["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"]
            let index = try #require((line["custom_id"] as? String)?.split(separator: "-").last)
            // The chat path's deterministic reply: it echoes the line's own prompt.
            #expect((message as? String)?.hasPrefix("Echo: Request number \(index) of") == true, "\(line)")
        }
        #expect(api.server.statistics.batchLinesByCustomID.values.allSatisfy { $0 == 1 })
        // A batch deployment takes no online requests.
        var chat = HTTPClientRequest(
            url: api.server.endpoint + "/openai/deployments/batch/chat/completions?api-version=2024-10-21")
        chat.method = .POST
        chat.headers.add(name: "api-key", value: "sim-key")
        chat.body = .bytes(ByteBuffer(string: #"{"messages":[{"role":"user","content":"hi"}]}"#))
        let refused = try await api.http.execute(chat, timeout: .seconds(10))
        let refusal = String(buffer: try await refused.body.collect(upTo: 1 << 16))
        #expect(refused.status.code == 400 && refusal.contains("OperationNotSupported"), "\(refusal)")
        // Deleted files are gone.
        _ = try await api.json(.DELETE, "files/\(fileID)")
        #expect(try await api.send(.GET, "files/\(fileID)").status == 404)
        try await api.close()
    }

    @Test func azureValidationErrorsFailTheBatchNamingTheLine() async throws {
        let api = try await Self.api(v1: false) { $0.batches.maxLines = 5 }
        let good = String(decoding: Self.lines(2), as: UTF8.self)
        let cases: [(String, Data)] = [
            ("invalid_json_line", Data([0xEF, 0xBB, 0xBF]) + Self.lines(2)),
            ("duplicate_custom_id", Data((good + good).utf8)),
            ("url_mismatch", Self.lines(2, url: "/embeddings")),
            ("model_not_found", Self.lines(2, model: "online")),
            ("model_mismatch", Self.lines(1, model: "batch") + Self.lines(1, model: "batch-2", prefix: "other")),
            ("too_many_tasks", Self.lines(6)),
            ("empty_batch", Data("\n".utf8)),
        ]
        for (code, content) in cases {
            let fileID = try #require(try await api.upload(content)["id"] as? String)
            try await Task.sleep(for: .milliseconds(40))
            let created = try await api.json(
                .POST, "batches",
                body: ["input_file_id": fileID, "endpoint": "/chat/completions", "completion_window": "24h"])
            let failed = try await api.wait(
                for: try #require(created["id"] as? String), until: ["failed", "in_progress", "completed"])
            #expect(failed["status"] as? String == "failed", "\(code): \(failed)")
            let errors = ((failed["errors"] as? [String: Any])?["data"] as? [[String: Any]]) ?? []
            #expect(errors.contains { $0["code"] as? String == code }, "\(code): \(errors)")
        }
        try await api.close()
    }

    @Test func theEnqueuedTokenQuotaRefusesABatchUntilAnotherFinishes() async throws {
        // 40 lines of about 17 prompt tokens each: two such batches do not fit in 1,000 tokens.
        // A line every 20 simulated seconds: the first batch would run 800 (8 s); it is cancelled.
        let api = try await Self.api(v1: true, enqueuedTokens: 1_000) { $0.batches.linesPerSecond = 0.05 }
        func submit(_ prefix: String) async throws -> String {
            let fileID = try #require(try await api.upload(Self.lines(40, prefix: prefix))["id"] as? String)
            try await Task.sleep(for: .milliseconds(40))
            let created = try await api.json(
                .POST, "batches",
                body: ["input_file_id": fileID, "endpoint": "/chat/completions", "completion_window": "24h"])
            return try #require(created["id"] as? String)
        }
        let first = try await submit("a")
        #expect(try await api.wait(for: first, until: ["in_progress", "failed"])["status"] as? String == "in_progress")
        let second = try await submit("b")
        let refused = try await api.wait(for: second, until: ["failed", "in_progress"])
        let codes = ((refused["errors"] as? [String: Any])?["data"] as? [[String: Any]])?.compactMap {
            $0["code"] as? String
        }
        #expect(codes == ["token_limit_exceeded"], "\(refused)")
        _ = try await api.json(.POST, "batches/\(first)/cancel")
        #expect(try await api.wait(for: first, until: ["cancelled"])["status"] as? String == "cancelled")
        // Once the first is over, the same lines go through.
        let third = try await submit("b")
        #expect(try await api.wait(for: third, until: ["in_progress", "failed"])["status"] as? String == "in_progress")
        try await api.close()
    }

    @Test func failedLinesGoToTheErrorFile() async throws {
        let api = try await Self.api(v1: false) { $0.batches.failedLineShare = 0.3 }
        let fileID = try #require(try await api.upload(Self.lines(60))["id"] as? String)
        try await Task.sleep(for: .milliseconds(40))
        let created = try await api.json(
            .POST, "batches",
            body: ["input_file_id": fileID, "endpoint": "/chat/completions", "completion_window": "24h"])
        let done = try await api.wait(for: try #require(created["id"] as? String), until: ["completed"])
        let counts = try #require(done["request_counts"] as? [String: Int])
        let errors = try await api.content(try #require(done["error_file_id"] as? String))
        let output = try await api.content(try #require(done["output_file_id"] as? String))
        #expect(
            counts["failed"] == errors.count && counts["completed"] == output.count && errors.count + output.count == 60
        )
        #expect(errors.count > 5 && errors.count < 35, "\(errors.count) of 60 failed")
        #expect(errors.allSatisfy { ($0["response"] as? [String: Any])?["status_code"] as? Int == 500 })
        try await api.close()
    }

    @Test func anExpiredOrCancelledBatchKeepsWhatWasDone() async throws {
        // 20 lines a second, 200 lines, expiry after 5 s: about 60 done (validation takes 2).
        let api = try await Self.api(v1: true) { $0.batches.expiresAfterSeconds = 5 }
        let fileID = try #require(try await api.upload(Self.lines(200))["id"] as? String)
        try await Task.sleep(for: .milliseconds(40))
        let body: [String: Any] = [
            "input_file_id": fileID, "endpoint": "/chat/completions", "completion_window": "24h",
        ]
        let expiring = try #require(try await api.json(.POST, "batches", body: body)["id"] as? String)
        let expired = try await api.wait(for: expiring, until: ["expired", "completed"])
        #expect(expired["status"] as? String == "expired")
        let output = try await api.content(try #require(expired["output_file_id"] as? String))
        let errors = try await api.content(try #require(expired["error_file_id"] as? String))
        #expect(output.count > 20 && output.count < 120, "\(output.count) done before expiry")
        #expect(output.count + errors.count == 200)
        #expect(errors.allSatisfy { ($0["error"] as? [String: Any])?["code"] as? String == "batch_expired" })
        try await api.close()
        // Cancel: what is done stays done, the rest is not run.
        // 1,000 lines at one a simulated second: 10 s of real time to cancel in.
        let other = try await Self.api(v1: false) { $0.batches.linesPerSecond = 1 }
        let input = try #require(try await other.upload(Self.lines(1_000))["id"] as? String)
        try await Task.sleep(for: .milliseconds(40))
        let cancelling = try #require(
            try await other.json(
                .POST, "batches",
                body: ["input_file_id": input, "endpoint": "/chat/completions", "completion_window": "24h"])["id"]
                as? String)
        _ = try await other.wait(for: cancelling, until: ["in_progress"])
        try await Task.sleep(for: .milliseconds(50))
        let asked = try await other.json(.POST, "batches/\(cancelling)/cancel")
        #expect(asked["status"] as? String == "cancelling")
        let cancelled = try await other.wait(for: cancelling, until: ["cancelled"])
        let counts = try #require(cancelled["request_counts"] as? [String: Int])
        #expect(
            (counts["completed"] ?? 0) > 0 && (counts["completed"] ?? 0) < 1_000 && counts["total"] == 1_000,
            "\(counts)")
        let kept = try await other.content(try #require(cancelled["output_file_id"] as? String))
        #expect(kept.count == counts["completed"])
        try await other.close()
    }

    @Test func listsArePagedNewestFirst() async throws {
        let api = try await Self.api(v1: false)
        var created: [String] = []
        for index in 0..<5 {
            let fileID = try #require(try await api.upload(Self.lines(1, prefix: "p\(index)"))["id"] as? String)
            try await Task.sleep(for: .milliseconds(40))
            created.append(
                try #require(
                    try await api.json(
                        .POST, "batches",
                        body: ["input_file_id": fileID, "endpoint": "/chat/completions", "completion_window": "24h"]
                    )["id"] as? String))
        }
        var seen: [String] = []
        var after: String?
        repeat {
            let page = try await api.json(.GET, "batches", query: "limit=2" + (after.map { "&after=\($0)" } ?? ""))
            let data = try #require(page["data"] as? [[String: Any]])
            #expect(data.count <= 2)
            seen += data.compactMap { $0["id"] as? String }
            after = (page["has_more"] as? Bool == true) ? page["last_id"] as? String : nil
        } while after != nil
        #expect(seen == created.reversed())
        try await api.close()
    }
}
