import Foundation
import SluiceCore

/// Packs requests for a batch deployment into Batch API input files: within 100,000 lines and
/// 200 MB a file, and within the enqueued-token quota left (the deployment's quota less the input
/// tokens of the batches not finished yet), counted exactly.
///
/// Requests are taken in the order given, and packing stops at the first one the quota left cannot
/// hold, so the order of the queue is kept (what does not fit waits for a batch to finish). A
/// request that could never fit — more input tokens than the whole quota, or a line over a file's
/// size — is set apart, for the caller to send online or fail.
public struct BatchPacker: Sendable {
    /// One request: its `custom_id`, its body (a JSON object, without `model`) and its input tokens.
    public struct Request: Sendable, Hashable {
        public var customID: String
        public var body: Data
        public var inputTokens: Int

        /// A request as given.
        public init(customID: String, body: Data, inputTokens: Int) {
            self.customID = customID
            self.body = body
            self.inputTokens = inputTokens
        }
    }

    /// An input file: its JSONL (UTF-8, no byte order mark, one line per request), its requests'
    /// ids in order, and their input tokens.
    public struct File: Sendable, Hashable {
        public var content: Data
        public var customIDs: [String]
        public var inputTokens: Int
    }

    /// What `pack` made of the requests.
    public struct Packing: Sendable, Hashable {
        /// The files, in order.
        public var files: [File]
        /// Requests left for later (the quota left could not hold them), in order.
        public var waiting: [Request]
        /// Requests no batch of this deployment can take, with the reason.
        public var tooLarge: [Refused]
    }

    /// A request no batch can take, and why.
    public struct Refused: Sendable, Hashable {
        public var request: Request
        public var reason: String
    }

    /// The deployment named in each line's `model`.
    public var deployment: String
    /// The deployment's enqueued-token quota.
    public var enqueuedTokens: Int
    /// Azure's limits of one file.
    public var maxLines = 100_000
    public var maxBytes = 200_000_000

    /// A packer for one batch deployment.
    public init(deployment: String, enqueuedTokens: Int) {
        self.deployment = deployment
        self.enqueuedTokens = max(0, enqueuedTokens)
    }

    /// One input line: `{"custom_id", "method": "POST", "url": "/chat/completions", "body": {"model", …}}`.
    public func line(_ request: Request) -> Data {
        var line = Data("{\"custom_id\":\(JSONText.quoted(request.customID)),\"method\":\"POST\",".utf8)
        line += Data("\"url\":\"/chat/completions\",\"body\":{\"model\":\(JSONText.quoted(deployment))".utf8)
        let body = request.body.drop { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\n") }
        if body.first == UInt8(ascii: "{") {
            let rest = body.dropFirst()
            // `{}` has nothing to add after the model.
            if rest.first(where: { $0 != UInt8(ascii: " ") }) != UInt8(ascii: "}") { line += Data(",".utf8) }
            line += rest
        } else {
            line += Data("}".utf8)
        }
        line += Data("}".utf8)
        return line
    }

    /// Packs `requests` given the input tokens of this deployment's batches not finished yet.
    public func pack(_ requests: [Request], inFlightTokens: Int) -> Packing {
        var packing = Packing(files: [], waiting: [], tooLarge: [])
        var left = enqueuedTokens - max(0, inFlightTokens)
        var current = File(content: Data(), customIDs: [], inputTokens: 0)
        var ids = Set<String>()
        func close() {
            guard !current.customIDs.isEmpty else { return }
            packing.files.append(current)
            current = File(content: Data(), customIDs: [], inputTokens: 0)
            ids.removeAll()
        }
        for (index, request) in requests.enumerated() {
            let line = line(request)
            if request.inputTokens > enqueuedTokens {
                packing.tooLarge.append(
                    Refused(
                        request: request,
                        reason:
                            "\(request.inputTokens) input tokens, more than the deployment's enqueued-token quota of \(enqueuedTokens)"
                    ))
                continue
            }
            if line.count + 1 > maxBytes {
                packing.tooLarge.append(
                    Refused(
                        request: request,
                        reason: "a batch line of \(line.count + 1) bytes, more than a file's \(maxBytes)"))
                continue
            }
            guard request.inputTokens <= left else {
                // The quota left is used: the rest waits, in order, for a batch to finish.
                packing.waiting = Array(requests[index...])
                break
            }
            if current.customIDs.count >= maxLines || current.content.count + line.count + 1 > maxBytes
                || ids.contains(request.customID)
            {
                close()
            }
            current.content += line
            current.content.append(UInt8(ascii: "\n"))
            current.customIDs.append(request.customID)
            current.inputTokens += request.inputTokens
            ids.insert(request.customID)
            left -= request.inputTokens
        }
        close()
        return packing
    }
}
