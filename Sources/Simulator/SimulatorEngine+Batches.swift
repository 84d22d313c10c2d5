import Foundation
import Tokenizer

/// A request to the Files or Batches API, in either shape: `/openai/{files|batches}…?api-version=`
/// (Azure) or `/openai/v1/…` and `/v1/…` (v1, OpenAI).
struct BatchRoute {
    enum Resource { case files, batches }
    var resource: Resource
    /// The id, and what follows it (`content`, `cancel`).
    var id: String?
    var action: String?
    var parameters: [String: String]
    var hasVersion: Bool

    init?(path: String, query: [String]) {
        var parts = path.split(separator: "/").map(String.init)
        if parts.first == "openai" { parts.removeFirst() }
        let v1 = parts.first == "v1"
        if v1 { parts.removeFirst() }
        guard let first = parts.first, parts.count <= 3 else { return nil }
        switch first {
        case "files": resource = .files
        case "batches": resource = .batches
        default: return nil
        }
        guard v1 || path.hasPrefix("/openai/") else { return nil }
        id = parts.count > 1 ? parts[1] : nil
        action = parts.count > 2 ? parts[2] : nil
        var parameters: [String: String] = [:]
        for item in query {
            let pair = item.split(separator: "=", maxSplits: 1).map(String.init)
            parameters[pair[0]] = pair.count > 1 ? (pair[1].removingPercentEncoding ?? pair[1]) : ""
        }
        self.parameters = parameters
        hasVersion = v1 || parameters["api-version"] != nil
    }
}

extension SimulatorEngine {
    private var options: SimulatorConfiguration.Batches { configuration.batches }

    func handleBatches(_ route: BatchRoute, method: String, headers: [(String, String)], body: [UInt8])
        -> SimulatedResponse
    {
        guard route.hasVersion else {
            return error(404, "404", "Resource not found (api-version query parameter is missing)")
        }
        switch (route.resource, method, route.id, route.action) {
        case (.files, "POST", nil, nil): return answeredLate(upload(headers: headers, body: body))
        case (.files, "GET", nil, nil): return list(files: true, route.parameters)
        case (.files, "GET", let id?, nil): return file(id) { .json($0.object(now: now)) }
        case (.files, "GET", let id?, "content"?):
            return answeredLate(
                file(id) {
                    SimulatedResponse(
                        status: 200, headers: [("content-type", "application/octet-stream")], body: $0.bytes, delay: 0)
                })
        case (.files, "DELETE", let id?, nil): return deleteFile(id)
        case (.batches, "POST", nil, nil): return answeredLate(createBatch(body: body))
        case (.batches, "GET", nil, nil): return list(files: false, route.parameters)
        case (.batches, "GET", let id?, nil): return batch(id)
        case (.batches, "POST", let id?, "cancel"?): return cancel(id)
        default: return error(404, "404", "Resource not found")
        }
    }

    /// An upload's, a creation's or a download's answer, sent `requestSeconds` after it took effect.
    private func answeredLate(_ response: SimulatedResponse) -> SimulatedResponse {
        var late = response
        late.delay = max(late.delay, options.requestSeconds)
        return late
    }

    private func nextID(_ prefix: String, _ state: inout State) -> String {
        state.nextObject += 1
        return prefix + String(format: "%024x", state.nextObject)
    }

    // MARK: Files

    private func upload(headers: [(String, String)], body: [UInt8]) -> SimulatedResponse {
        let contentType = headers.first { $0.0.lowercased() == "content-type" }?.1 ?? ""
        guard contentType.lowercased().hasPrefix("multipart/form-data"),
            let parts = MultipartForm.parts(body, contentType: contentType)
        else {
            return error(400, "invalid_request_error", "a file upload is multipart/form-data with 'purpose' and 'file'")
        }
        guard
            let purpose = parts.first(where: { $0.name == "purpose" }).map({ String(decoding: $0.bytes, as: UTF8.self) }
            ),
            purpose == "batch"
        else { return error(400, "invalid_request_error", "'purpose' must be 'batch'") }
        guard let file = parts.first(where: { $0.name == "file" }) else {
            return error(400, "invalid_request_error", "'file' is required")
        }
        guard file.bytes.count <= options.maxFileBytes else {
            return error(413, "file_too_large", "The file is larger than \(options.maxFileBytes) bytes.")
        }
        let now = self.now
        let stored = state.withLock { state -> StoredFile in
            let stored = StoredFile(
                id: nextID("file-", &state), filename: file.filename ?? "upload.jsonl", purpose: purpose,
                bytes: file.bytes, createdAt: now, processedAt: now + options.pendingSeconds)
            state.files[stored.id] = stored
            state.fileOrder.append(stored.id)
            state.statistics.filesUploaded += 1
            for line in file.bytes.split(separator: UInt8(ascii: "\n")) {
                if let object = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any],
                    let customID = object["custom_id"] as? String
                {
                    state.statistics.uploadedLinesByCustomID[customID, default: 0] += 1
                }
            }
            return stored
        }
        return .json(stored.object(now: now))
    }

    private func file(_ id: String, _ answer: (StoredFile) -> SimulatedResponse) -> SimulatedResponse {
        guard let file = state.withLock({ $0.files[id] }) else {
            return error(404, "fileNotFound", "File \(id) not found.")
        }
        return answer(file)
    }

    private func deleteFile(_ id: String) -> SimulatedResponse {
        let deleted = state.withLock { state -> Bool in
            guard state.files.removeValue(forKey: id) != nil else { return false }
            state.fileOrder.removeAll { $0 == id }
            state.statistics.filesDeleted += 1
            return true
        }
        guard deleted else { return error(404, "fileNotFound", "File \(id) not found.") }
        return .json(["id": id, "object": "file", "deleted": true])
    }

    /// A page of files or batches, newest first: `limit` (1 ... 100, default 20) after the id `after`.
    private func list(files: Bool, _ parameters: [String: String]) -> SimulatedResponse {
        let limit = min(100, max(1, Int(parameters["limit"] ?? "") ?? 20))
        let now = self.now
        let ids = state.withLock { Array((files ? $0.fileOrder : $0.batchOrder).reversed()) }
        var start = 0
        if let after = parameters["after"], let index = ids.firstIndex(of: after) { start = index + 1 }
        let page = Array(ids.dropFirst(start).prefix(limit))
        var data: [[String: Any]] = []
        for id in page {
            if files {
                if let file = state.withLock({ $0.files[id] }),
                    parameters["purpose"].map({ $0 == file.purpose }) ?? true
                {
                    data.append(file.object(now: now))
                }
            } else if let batch = refreshed(id, now: now) {
                data.append(batch.object(now: now, options: options))
            }
        }
        return .json([
            "object": "list", "data": data, "first_id": page.first ?? NSNull(), "last_id": page.last ?? NSNull(),
            "has_more": start + page.count < ids.count,
        ])
    }

    // MARK: Batches

    private func createBatch(body: [UInt8]) -> SimulatedResponse {
        guard let request = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any],
            let inputFileID = request["input_file_id"] as? String, let endpoint = request["endpoint"] as? String
        else { return error(400, "invalid_request_error", "'input_file_id' and 'endpoint' are required") }
        guard request["completion_window"] as? String == "24h" else {
            return error(400, "invalid_request_error", "'completion_window' must be '24h'")
        }
        guard ["/chat/completions", "/v1/chat/completions"].contains(endpoint) else {
            return error(400, "invalid_request_error", "'endpoint' must be /chat/completions")
        }
        let metadata = (request["metadata"] as? [String: Any] ?? [:]).compactMapValues { $0 as? String }
        let now = self.now
        let created = state.withLock { state -> Result<StoredBatch, SimulatedResponse> in
            guard let file = state.files[inputFileID] else {
                return .failure(error(404, "fileNotFound", "File \(inputFileID) not found."))
            }
            guard now >= file.processedAt else {
                return .failure(
                    error(
                        400, "invalid_request_error",
                        "The input file '\(inputFileID)' is in 'pending' state. Only files with status 'Processed' are accepted for batch inferencing. Please check the file status and try again."
                    ))
            }
            let batch = StoredBatch(
                id: nextID("batch_", &state), inputFileID: inputFileID, endpoint: endpoint, metadata: metadata,
                createdAt: now, validatedAt: now + options.validationSeconds,
                expiresAt: now + options.expiresAfterSeconds)
            state.batches[batch.id] = batch
            state.batchOrder.append(batch.id)
            state.statistics.batchesCreated += 1
            return .success(batch)
        }
        switch created {
        case .success(let batch): return .json(batch.object(now: now, options: options))
        case .failure(let response): return response
        }
    }

    private func batch(_ id: String) -> SimulatedResponse {
        let now = self.now
        guard let batch = refreshed(id, now: now) else { return error(404, "batchNotFound", "Batch \(id) not found.") }
        return .json(batch.object(now: now, options: options))
    }

    private func cancel(_ id: String) -> SimulatedResponse {
        let now = self.now
        _ = refreshed(id, now: now)
        let cancelled = state.withLock { state -> StoredBatch? in
            guard var batch = state.batches[id] else { return nil }
            let status = batch.status(now: now, options: options).status
            if ["validating", "in_progress", "finalizing"].contains(status) {
                if status == "validating" { (batch.validated, batch.validatedAt) = (true, now) }
                batch.cancellingAt = now
                state.batches[id] = batch
            }
            return batch
        }
        guard let cancelled else { return error(404, "batchNotFound", "Batch \(id) not found.") }
        return .json(cancelled.object(now: now, options: options))
    }

    /// The batch brought up to `now`: validated once its validation time is over, its outcome written
    /// once it ended.
    func refreshed(_ id: String, now: Double) -> StoredBatch? {
        let ending = state.withLock { state -> (StoredBatch, status: String, done: Int)? in
            guard var batch = state.batches[id] else { return nil }
            if !batch.validated && now >= batch.validatedAt {
                // Batches that were due first are validated first, asked after or not: their tokens
                // count against the quota this one is checked against.
                for other in state.batchOrder where other != id {
                    guard var earlier = state.batches[other], !earlier.validated,
                        earlier.validatedAt <= batch.validatedAt
                    else { continue }
                    validate(&earlier, state: &state, now: now)
                    state.batches[other] = earlier
                }
                validate(&batch, state: &state, now: now)
                state.batches[id] = batch
            }
            let (status, done) = batch.status(now: now, options: options)
            guard batch.endStatus == nil, !batch.materializing, ["completed", "expired", "cancelled"].contains(status)
            else { return nil }
            batch.materializing = true
            state.batches[id] = batch
            return (batch, status, done)
        }
        if let (batch, status, done) = ending { writeOutcome(batch, status: status, done: done, now: now) }
        return state.withLock { $0.batches[id] }
    }

    /// Validation: the file's lines, Azure's checks, and the enqueued-token quota.
    private func validate(_ batch: inout StoredBatch, state: inout State, now: Double) {
        batch.validated = true
        let bytes = state.files[batch.inputFileID]?.bytes ?? []
        var errors: [BatchError] = []
        func fail(_ code: String, _ message: String, line: Int?) {
            if errors.count < 100 { errors.append(BatchError(code: code, message: message, line: line)) }
        }
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) {
            fail("invalid_json_line", "The file starts with a byte order mark; it must be UTF-8 without one.", line: 1)
        }
        let texts = bytes.split(separator: 10, omittingEmptySubsequences: false).map {
            String(decoding: $0.last == 13 ? $0.dropLast() : $0[...], as: UTF8.self)
        }.enumerated().filter { !$0.element.trimmingCharacters(in: .whitespaces).isEmpty }
        if texts.isEmpty { fail("empty_batch", "The input file has no requests.", line: nil) }
        if texts.count > options.maxLines {
            fail(
                "too_many_tasks",
                "The input file has \(texts.count) requests; at most \(options.maxLines) are allowed.", line: nil)
        }
        var seen = Set<String>()
        var lines: [BatchLine] = []
        var chats: [[ChatMessage]] = []
        var model: String?
        for (index, text) in texts where errors.isEmpty || errors.count < 100 {
            let number = index + 1
            guard let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any],
                let customID = object["custom_id"] as? String, let body = object["body"] as? [String: Any],
                let messages = body["messages"] as? [[String: Any]], object["method"] as? String == "POST"
            else {
                fail(
                    "invalid_json_line",
                    "Line \(number) is not a request: custom_id, method POST, url and body with messages.", line: number
                )
                continue
            }
            let url = object["url"] as? String ?? ""
            if url != batch.endpoint
                && !(["/chat/completions", "/v1/chat/completions"].contains(url)
                    && ["/chat/completions", "/v1/chat/completions"].contains(batch.endpoint))
            {
                fail(
                    "url_mismatch", "Line \(number)'s url \(url) is not the batch's endpoint \(batch.endpoint).",
                    line: number)
            }
            let lineModel = body["model"] as? String ?? ""
            guard case .batch = state.deployments[lineModel]?.deployment.kind else {
                fail(
                    "model_not_found",
                    "Line \(number): the model '\(lineModel)' is not a batch deployment of this resource.", line: number
                )
                continue
            }
            if let model, model != lineModel {
                fail(
                    "model_mismatch",
                    "Line \(number): every line must use the same model ('\(model)', not '\(lineModel)').", line: number
                )
            }
            model = model ?? lineModel
            if !seen.insert(customID).inserted {
                fail(
                    "duplicate_custom_id", "Line \(number): the custom_id '\(customID)' is used more than once.",
                    line: number)
            }
            lines.append(BatchLine(customID: customID, text: text, tokens: 0))
            chats.append(
                messages.map {
                    ChatMessage(
                        role: $0["role"] as? String ?? "user", content: $0["content"] as? String ?? "",
                        name: $0["name"] as? String)
                })
        }
        guard errors.isEmpty, let model, let deployment = state.deployments[model]?.deployment,
            case .batch(let limit) = deployment.kind
        else {
            (batch.errors, batch.failedAt) = (errors, now)
            return
        }
        let encoding = BytePairEncoding.encoding(ModelEncoding.resolve(model: deployment.model).encoding)
        for index in lines.indices { lines[index].tokens = Self.promptTokens(chats[index], encoding: encoding) }
        let tokens = lines.reduce(0) { $0 + $1.tokens }
        let enqueued = state.batches.values.filter {
            $0.id != batch.id && $0.deployment == model && $0.holdsQuota(now: now, options: options)
        }.reduce(0) { $0 + $1.tokens }
        if enqueued + tokens > limit {
            fail(
                "token_limit_exceeded",
                "The number of enqueued tokens has surpassed the configured limit of \(limit) for the deployment '\(model)'. Please either increase the limit or try again once the current jobs have finished.",
                line: nil)
            (batch.errors, batch.failedAt) = (errors, now)
            return
        }
        (batch.lines, batch.tokens, batch.deployment) = (lines, tokens, model)
        for line in lines { state.statistics.batchLinesByCustomID[line.customID, default: 0] += 1 }
    }

    /// Answers the lines done (the same replies as the chat path), shuffles them, and stores the
    /// output and error files.
    private func writeOutcome(_ batch: StoredBatch, status: String, done: Int, now: Double) {
        var random = SplitMix(seed: configuration.seed &+ UInt64(batch.id.hashValue & 0xFFFF))
        var output: [String] = []
        var failed: [String] = []
        func line(_ customID: String, status: Int, body: String) -> String {
            "{\"custom_id\":\(Self.quoted(customID)),\"error\":null,\"id\":\"batch_req_\(UUID().uuidString.lowercased())\",\"response\":{\"body\":\(body),\"request_id\":\"\(UUID().uuidString.lowercased())\",\"status_code\":\(status)}}"
        }
        for item in batch.lines.prefix(done) {
            if random.nextDouble() < options.failedLineShare {
                failed.append(
                    line(
                        item.customID, status: 500,
                        body:
                            "{\"error\":{\"code\":\"InternalServerError\",\"message\":\"The server had an error while processing your request.\"}}"
                    ))
                continue
            }
            let object = (try? JSONSerialization.jsonObject(with: Data(item.text.utf8))) as? [String: Any]
            let body = object?["body"] as? [String: Any] ?? [:]
            let response = respond(
                deploymentName: batch.deployment ?? "", request: body,
                messages: body["messages"] as? [[String: Any]] ?? [], clientID: item.customID)
            let text = String(decoding: response.body, as: UTF8.self)
            if response.status == 200 {
                output.append(line(item.customID, status: 200, body: text))
            } else {
                failed.append(line(item.customID, status: response.status, body: text.isEmpty ? "{}" : text))
            }
        }
        if status == "expired" {
            for item in batch.lines.dropFirst(done) {
                failed.append(
                    "{\"custom_id\":\(Self.quoted(item.customID)),\"error\":{\"code\":\"batch_expired\",\"message\":\"This request could not be executed before the completion window expired.\"},\"id\":\"batch_req_\(UUID().uuidString.lowercased())\",\"response\":null}"
                )
            }
        }
        // Output order differs from input order.
        for index in output.indices.reversed() where index > 0 {
            output.swapAt(index, Int(random.next() % UInt64(index + 1)))
        }
        state.withLock { state in
            guard var stored = state.batches[batch.id] else { return }
            func store(_ lines: [String]) -> String? {
                guard !lines.isEmpty else { return nil }
                let file = StoredFile(
                    id: nextID("file-", &state), filename: "\(batch.id)_\(lines == output ? "output" : "error").jsonl",
                    purpose: "batch_output", bytes: Array((lines.joined(separator: "\n") + "\n").utf8), createdAt: now,
                    processedAt: now)
                state.files[file.id] = file
                state.fileOrder.append(file.id)
                return file.id
            }
            stored.outputFileID = store(output)
            stored.errorFileID = store(failed)
            stored.completedCount = output.count
            stored.failedCount = failed.count
            (stored.endStatus, stored.endedAt, stored.materializing) = (status, now, false)
            state.batches[batch.id] = stored
        }
    }
}

extension SimulatedResponse {
    /// A 200 with a JSON object.
    static func json(_ object: [String: Any]) -> SimulatedResponse {
        let body = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return SimulatedResponse(
            status: 200, headers: [("content-type", "application/json")], body: Array(body), delay: 0)
    }
}
