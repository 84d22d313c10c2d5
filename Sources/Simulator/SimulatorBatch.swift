import Foundation

/// A file of the simulated Files API: an input file uploaded for a batch, or a batch's output or
/// error file.
struct StoredFile: Sendable {
    var id: String
    var filename: String
    var purpose: String
    var bytes: [UInt8]
    /// Simulated seconds of its upload; `pending` until `processedAt`.
    var createdAt: Double
    var processedAt: Double

    func object(now: Double) -> [String: Any] {
        [
            "id": id, "object": "file", "bytes": bytes.count, "created_at": Int(createdAt), "filename": filename,
            "purpose": purpose, "status": now >= processedAt ? "processed" : "pending", "status_details": NSNull(),
        ]
    }
}

/// One line of a batch's input file, as validation read it.
struct BatchLine: Sendable {
    var customID: String
    /// The line as uploaded (its request body is read again when it is answered).
    var text: String
    /// The prompt's tokens (the enqueued-token quota counts them).
    var tokens: Int
}

/// A validation error of a batch's input file.
struct BatchError: Sendable {
    var code: String
    var message: String
    var line: Int?
}

/// A batch of the simulated Batches API. Its state follows from simulated time: validating, then in
/// progress (lines done at a steady rate), finalizing, completed; or failed at validation, expired,
/// cancelled.
struct StoredBatch: Sendable {
    var id: String
    var inputFileID: String
    var endpoint: String
    var metadata: [String: String]
    var createdAt: Double
    var validatedAt: Double
    var expiresAt: Double
    /// Set once validation ran.
    var validated = false
    var deployment: String?
    var lines: [BatchLine] = []
    var tokens = 0
    var errors: [BatchError] = []
    var failedAt: Double?
    var cancellingAt: Double?
    /// When its outcome was written, and the files holding it.
    var endedAt: Double?
    var endStatus: String?
    var outputFileID: String?
    var errorFileID: String?
    var completedCount = 0
    var failedCount = 0
    /// The outcome is being written (outside the lock).
    var materializing = false

    /// Lines done by `time`, at `linesPerSecond` from the end of validation.
    func linesDone(by time: Double, linesPerSecond: Double) -> Int {
        guard validated, failedAt == nil else { return 0 }
        return min(lines.count, max(0, Int(((time - validatedAt) * linesPerSecond).rounded(.down))))
    }

    /// When the last line is done.
    func processingEnds(linesPerSecond: Double) -> Double {
        validatedAt + Double(lines.count) / max(linesPerSecond, 1e-9)
    }

    /// The batch's status at `now`, and how many lines an outcome written now would hold.
    func status(now: Double, options: SimulatorConfiguration.Batches) -> (status: String, done: Int) {
        if let endStatus { return (endStatus, completedCount + failedCount) }
        if now < validatedAt || !validated { return ("validating", 0) }
        if failedAt != nil { return ("failed", 0) }
        if let cancellingAt {
            let done = linesDone(by: cancellingAt, linesPerSecond: options.linesPerSecond)
            return (now >= cancellingAt + options.finalizingSeconds ? "cancelled" : "cancelling", done)
        }
        let ends = processingEnds(linesPerSecond: options.linesPerSecond)
        if ends > expiresAt && now >= expiresAt {
            return ("expired", linesDone(by: expiresAt, linesPerSecond: options.linesPerSecond))
        }
        if now < ends { return ("in_progress", linesDone(by: now, linesPerSecond: options.linesPerSecond)) }
        return (now >= ends + options.finalizingSeconds ? "completed" : "finalizing", lines.count)
    }

    /// Whether its tokens count toward the deployment's enqueued-token quota at `now`.
    func holdsQuota(now: Double, options: SimulatorConfiguration.Batches) -> Bool {
        guard validated, failedAt == nil else { return false }
        return ["in_progress", "finalizing", "cancelling"].contains(status(now: now, options: options).status)
    }

    func object(now: Double, options: SimulatorConfiguration.Batches) -> [String: Any] {
        var (status, done) = status(now: now, options: options)
        // Ended, but its files not written yet: still finishing.
        if endStatus == nil, status == "completed" || status == "expired" { status = "finalizing" }
        if endStatus == nil, status == "cancelled" { status = "cancelling" }
        var object: [String: Any] = [
            "id": id, "object": "batch", "endpoint": endpoint, "input_file_id": inputFileID,
            "completion_window": "24h", "status": status, "created_at": Int(createdAt), "expires_at": Int(expiresAt),
            "output_file_id": outputFileID ?? NSNull(), "error_file_id": errorFileID ?? NSNull(),
            "metadata": metadata.isEmpty ? NSNull() : metadata,
        ]
        let finished = endStatus != nil
        object["request_counts"] = [
            "total": lines.count, "completed": finished ? completedCount : done, "failed": finished ? failedCount : 0,
        ]
        let data = errors.map { error -> [String: Any] in
            [
                "code": error.code, "message": error.message, "line": error.line.map { $0 as Any } ?? NSNull(),
                "param": NSNull(),
            ]
        }
        object["errors"] = errors.isEmpty ? NSNull() : ["object": "list", "data": data] as [String: Any]
        if validated && failedAt == nil { object["in_progress_at"] = Int(validatedAt) }
        if let failedAt { object["failed_at"] = Int(failedAt) }
        if let cancellingAt { object["cancelling_at"] = Int(cancellingAt) }
        if let endedAt, let endStatus {
            object[endStatus == "completed" ? "completed_at" : "\(endStatus)_at"] = Int(endedAt)
        }
        return object
    }
}

/// Reading a `multipart/form-data` body: its parts' names, file names and bytes.
enum MultipartForm {
    struct Part {
        var name: String
        var filename: String?
        var bytes: [UInt8]
    }

    /// The parts, or nil when the body does not follow the boundary of `contentType`.
    static func parts(_ body: [UInt8], contentType: String) -> [Part]? {
        guard
            let boundary = contentType.split(separator: ";").lazy.map({ $0.trimmingCharacters(in: .whitespaces) })
                .first(where: { $0.lowercased().hasPrefix("boundary=") })?.dropFirst("boundary=".count)
        else { return nil }
        let unquoted = boundary.hasPrefix("\"") ? boundary.dropFirst().dropLast() : Substring(boundary)
        let delimiter = Array(("--" + unquoted).utf8)
        var parts: [Part] = []
        var starts: [Int] = []
        var index = 0
        while let found = find(delimiter, in: body, from: index) {
            starts.append(found)
            index = found + delimiter.count
        }
        guard starts.count >= 2 else { return nil }
        for (start, end) in zip(starts, starts.dropFirst()) {
            var from = start + delimiter.count
            if body[from..<min(body.count, from + 2)].elementsEqual([13, 10]) { from += 2 }
            guard let headerEnd = find([13, 10, 13, 10], in: body, from: from), headerEnd < end else { return nil }
            let header = String(decoding: body[from..<headerEnd], as: UTF8.self)
            var contentEnd = end
            if contentEnd - 2 >= headerEnd + 4, body[(contentEnd - 2)..<contentEnd].elementsEqual([13, 10]) {
                contentEnd -= 2
            }
            guard
                let disposition = header.split(separator: "\r\n").first(where: {
                    $0.lowercased().hasPrefix("content-disposition:")
                })
            else { return nil }
            guard let name = parameter("name", in: disposition) else { return nil }
            parts.append(
                Part(
                    name: name, filename: parameter("filename", in: disposition),
                    bytes: Array(body[(headerEnd + 4)..<contentEnd])))
        }
        return parts
    }

    private static func parameter(_ key: String, in header: Substring) -> String? {
        for item in header.split(separator: ";").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            let pair = item.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, pair[0].lowercased() == key else { continue }
            var value = String(pair[1])
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 {
                value = String(value.dropFirst().dropLast())
            }
            return value
        }
        return nil
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count else { return nil }
        var index = max(0, start)
        while index <= haystack.count - needle.count {
            if haystack[index] == needle[0] && haystack[index..<(index + needle.count)].elementsEqual(needle) {
                return index
            }
            index += 1
        }
        return nil
    }
}
