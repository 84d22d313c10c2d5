import Call
import Catalog
import Chunk
import Foundation
import Ingest
import PromptRendering
import Queue
import Scheduler
import SluiceCore
import Tools

/// `sluice estimate`: what a run will send, cost and take, found by doing everything a run does
/// before calling — reading, chunking and rendering every document with the model's tokenizer — so
/// the input tokens are the ones the service will bill.
public enum Estimator {
    /// What the documents of a directory make: calls, exact prompt tokens and quota charges.
    public struct Scan: Sendable {
        /// Documents read.
        public var documents = 0
        /// Files left out, with the reason.
        public var skipped: [SkippedFile] = []
        /// Chunk calls still to make, their prompt tokens (exact) and quota charges (prompt + max_tokens, × n).
        public var calls = 0
        /// Prompt tokens of the chunk calls still to make (exact).
        public var inputTokens = 0
        /// Quota charge of those calls (prompt + max_tokens, × n).
        public var charge = 0
        /// Chunk calls whose result is already stored in the queue (they will not be paid for again).
        public var alreadyDone = 0
        /// Chunks per document with calls still to make (for the reduce step).
        public var chunksPerDocument: [Int] = []
        /// Chunks that cannot fit the model's context, with the reason.
        public var overflows: [String] = []
        /// A few rendered requests spread over the corpus, for a sample run.
        public var samples: [CallInput] = []
    }

    /// One deployment the run may use.
    public struct Target: Sendable {
        /// The deployment's name.
        public var name: String
        /// The deployed model.
        public var model: String
        /// Standard or provisioned, with its limits.
        public var kind: DeploymentQuota.Kind
        /// How it is priced.
        public var billing: Billing
        /// A batch deployment's enqueued-token quota (nil: online).
        public var enqueuedTokens: Int?

        /// Creates it from its fields.
        public init(name: String, model: String, kind: DeploymentQuota.Kind, billing: Billing) {
            self.name = name
            self.model = model
            self.kind = kind
            self.billing = billing
        }
    }

    /// Reads, chunks and renders every document under `root` on `threads` threads.
    ///
    /// - Parameters:
    ///   - queue: When given, chunks whose results it already stores are counted as done, not to do.
    ///   - sampleSize: How many rendered requests to keep for a sample run.
    public static func scan(
        root: String, pipeline: PipelineDefinition, catalog: ModelCatalog, queue: (any JobQueue)? = nil,
        sampleSize: Int = 0, threads: Int = ProcessInfo.processInfo.activeProcessorCount
    ) async throws -> Scan {
        let absolute = DirectoryWalker.absolute(root)
        let walker = DirectoryWalker(pipeline.selection)
        let (files, skippedByWalk) = try await BlockingWork.run("listing \(absolute)", timeout: Enqueuer.walkTimeout) {
            try walker.walk(root: absolute)
        }
        let hash = try PromptRenderer.hash(pipeline)
        let prompts = try RunPrompts(
            run: RunRecord(id: 0, root: absolute, pipeline: pipeline, pipelineHash: hash), catalog: catalog)
        let chunker = Chunker(pipeline: pipeline)
        var scan = Scan()
        scan.skipped = skippedByWalk
        // One document per task, `threads` at a time; results are added up in file order.
        let results = await withTaskGroup(of: (Int, Scanned).self) { group in
            var results = [Scanned?](repeating: nil, count: files.count)
            var next = 0
            func add(_ index: Int) {
                let file = files[index]
                group.addTask {
                    do {
                        // One read: the bytes hashed are the bytes extracted.
                        let (sha, bytes) = try await TextExtractor.read(
                            file: file.file, timeout: TextExtractor.Limits(pipeline.selection).toolTimeout)
                        let document = DocumentRef(path: file.path, sha256: sha, size: file.size, mtime: file.mtime)
                        let text = ChunkInput(
                            document: document,
                            blocks: try await TextExtractor.blocks(
                                of: bytes, file: file.file, name: file.path,
                                limits: TextExtractor.Limits(pipeline.selection)))
                        let calls = try ChunkWorker.promptInputs(text, chunker: chunker).map(prompts.call(for:))
                        return (index, .calls(calls))
                    } catch {
                        return (index, .skipped(SkippedFile(path: file.path, reason: "\(error)")))
                    }
                }
            }
            while next < min(max(1, threads), files.count) {
                add(next)
                next += 1
            }
            while let (index, result) = await group.next() {
                results[index] = result
                if next < files.count {
                    add(next)
                    next += 1
                }
            }
            return results
        }
        var seen = 0
        var random = SampleRandom()
        for case let result? in results {
            switch result {
            case .skipped(let skipped):
                scan.skipped.append(skipped)
            case .calls(let calls):
                scan.documents += 1
                var remaining = 0
                for call in calls {
                    if let queue, try await queue.unitResult(unitKey: call.unitKey) != nil {
                        scan.alreadyDone += 1
                        continue
                    }
                    if let overflow = prompts.fit?.overflow(call) {
                        scan.overflows.append(overflow)
                        continue
                    }
                    remaining += 1
                    scan.calls += 1
                    scan.inputTokens += call.promptTokens
                    scan.charge += call.charge
                    // Reservoir sampling: every call equally likely to be among the samples.
                    seen += 1
                    if scan.samples.count < sampleSize {
                        scan.samples.append(call)
                    } else if sampleSize > 0, case let slot = random.next(below: seen), slot < sampleSize {
                        scan.samples[slot] = call
                    }
                }
                if remaining > 0 { scan.chunksPerDocument.append(calls.count) }
            }
        }
        return scan
    }

    /// What a sample run measured: the answers with their usage, and the calls that failed.
    public struct Sample: Sendable {
        /// Calls that came back with a reply.
        public var answered: [CallOutcome] = []
        /// Calls that failed.
        public var failed: [CallOutcome] = []

        /// Output tokens as a fraction of max_tokens (× n), nil when nothing was answered.
        public func outputRatio(maxTokens: Int, n: Int) -> Double? {
            guard !answered.isEmpty else { return nil }
            let completion = answered.reduce(0) { $0 + ($1.usage?.completionTokens ?? 0) }
            return min(1, Double(completion) / Double(answered.count * maxTokens * max(1, n)))
        }
    }

    /// Sends the scan's sample requests, one at a time, to measure the output length (they are real
    /// calls: they are paid for).
    public static func sample(_ calls: [CallInput], to deployment: Deployment, client: ChatCompletionClient) async
        -> Sample
    {
        var sample = Sample()
        for call in calls {
            let outcome = await client.send(body: call.body, to: deployment, customID: "sample-" + call.customID)
            if outcome.errorClass == nil && outcome.usage != nil {
                sample.answered.append(outcome)
            } else {
                sample.failed.append(outcome)
            }
        }
        return sample
    }

    /// Turns a scan into calls, tokens, cost and time per deployment.
    ///
    /// - Parameters:
    ///   - outputRatio: Expected output tokens as a fraction of max_tokens (from a sample run, or stated).
    ///   - hours: The time the provisioned comparison must finish in (nil: the pay-as-you-go time, or 24 h).
    public static func estimate(
        _ scan: Scan, pipeline: PipelineDefinition, targets: [Target], catalog: ModelCatalog, outputRatio: Double,
        outputRatioSource: String, hours: Double? = nil
    ) throws -> Estimate {
        let n = max(1, pipeline.n)
        var estimate = Estimate(
            currency: catalog.currency, catalogDate: catalog.asOf, model: pipeline.model, documents: scan.documents,
            skipped: scan.skipped.count, calls: scan.calls, inputTokens: scan.inputTokens,
            outputTokensMax: scan.calls * pipeline.maxTokens * n,
            outputTokensExpected: Int((Double(scan.calls * pipeline.maxTokens * n) * outputRatio).rounded()),
            outputRatio: outputRatio, outputRatioSource: outputRatioSource, charge: scan.charge,
            alreadyDone: scan.alreadyDone, overflows: scan.overflows)
        // The reduce step: its prompts hold the chunk results, so its input is an expected value.
        if let reduce = pipeline.reduce {
            let renderer = try PromptRenderer(pipeline: pipeline, pipelineHash: "")
            let probe = DocumentRef(
                path: "x/estimate.txt", sha256: String(repeating: "0", count: 64), size: 0, mtime: 0)
            let step = ReduceStep(level: 0, group: 0, groups: 1, final: true)
            let empty = renderer.renderReduce(document: probe, chunks: 1, parts: [], step: step).promptTokens
            let one = renderer.renderReduce(
                document: probe, chunks: 1, parts: [ReducePart(index: 0, text: "", cost: nil)], step: step
            ).promptTokens
            let perPart = Double(one - empty) + Double(pipeline.maxTokens) * outputRatio
            let limit = Double(
                reduce.maxInputTokens ?? catalog.facts(for: pipeline.model).map { $0.contextWindow - reduce.maxTokens }
                    ?? Int.max)
            var calls = 0
            var input = 0.0
            for chunks in scan.chunksPerDocument {
                let whole = Double(empty) + Double(chunks) * perPart
                if whole <= limit {
                    calls += 1
                    input += whole
                } else {
                    // Groups that fit, then one reduce over the groups' results.
                    let groups = Int((whole / max(1, limit - Double(empty))).rounded(.up))
                    calls += groups + 1
                    input += whole + Double(groups) * Double(empty) + Double(empty) + Double(groups) * perPart
                }
            }
            estimate.reduceCalls = calls
            estimate.reduceInputTokensExpected = Int(input.rounded())
            estimate.reduceOutputTokensMax = calls * reduce.maxTokens * n
            estimate.reduceOutputTokensExpected = Int((Double(calls * reduce.maxTokens * n) * outputRatio).rounded())
            estimate.charge += Int(input.rounded()) + calls * reduce.maxTokens * n
        }
        let allCalls = estimate.calls + estimate.reduceCalls
        let input = estimate.inputTokens + estimate.reduceInputTokensExpected
        let outputExpected = estimate.outputTokensExpected + estimate.reduceOutputTokensExpected
        let outputMax = estimate.outputTokensMax + estimate.reduceOutputTokensMax
        for target in targets {
            var line = Estimate.Deployment(name: target.name, model: target.model)
            let facts = catalog.facts(for: target.model)
            switch target.kind {
            case .standard where target.enqueuedTokens != nil:
                line.kind = "batch"
                let waves = Self.waves(
                    input: estimate.inputTokens, reduce: estimate.reduceCalls > 0, quota: target.enqueuedTokens)
                line.note = waves.map {
                    "\($0) wave\($0 == 1 ? "" : "s") within its enqueued-token quota of \(target.enqueuedTokens ?? 0) (each answered within 24 h)"
                }
            case .standard(let tpm, let rpm):
                line.kind = "standard"
                if let tpm {
                    let byTokens = Double(estimate.charge) / Double(tpm) * 60
                    let byRequests = rpm.map { Double(allCalls) / Double($0) * 60 } ?? 0
                    line.seconds = max(byTokens, byRequests)
                    line.limitedBy = byRequests > byTokens ? "rpm" : "tpm"
                }
            case .provisioned(let ptu, let capacity):
                line.kind = "provisioned"
                let weight = Double(facts?.outputTokenWeight ?? 4)
                if let capacity {
                    line.seconds = (Double(input) + Double(outputExpected) * weight) / Double(capacity) * 60
                    line.limitedBy = "ptu"
                }
                if case .provisioned(_, let type) = target.billing, let ptu, let seconds = line.seconds,
                    let hourly = catalog.provisionedHourlyCost(ptu: ptu, type: type)
                {
                    line.costExpected = hourly * seconds / 3_600
                    line.costMax = line.costExpected
                }
            }
            if case .perToken(let tier) = target.billing {
                let usage = { (output: Int) in
                    Usage(promptTokens: input, completionTokens: output, totalTokens: input + output)
                }
                line.costExpected =
                    catalog.cost(of: usage(outputExpected), servedModel: nil, deployedModel: target.model, tier: tier)?
                    .total
                line.costMax = catalog.maximumCost(
                    promptTokens: input, maxTokens: outputMax, deployedModel: target.model, tier: tier)
                line.tier = tier.rawValue
                if line.costExpected == nil {
                    line.note =
                        "no \(tier.rawValue) list price for \(target.model): set one under models: in deployments.yaml"
                }
            }
            estimate.deployments.append(line)
        }
        let rates = estimate.deployments.compactMap(\.seconds).filter { $0 > 0 }.map { 1 / $0 }
        estimate.expectedSeconds = rates.isEmpty ? nil : 1 / rates.reduce(0, +)
        if allCalls == 0 { estimate.expectedSeconds = 0 }
        // Provisioned for the model of the run's provisioned deployments, or the pipeline's.
        let provisionedModel =
            targets.first { $0.kind.isProvisioned }?.model ?? targets.first?.model ?? pipeline.model
        estimate.lanes = lanes(
            estimate, targets: targets, catalog: catalog, model: targets.first?.model ?? pipeline.model, input: input,
            outputExpected: outputExpected)
        estimate.provisioned = comparison(
            estimate, facts: catalog.facts(for: provisionedModel), catalog: catalog, input: input,
            outputExpected: outputExpected, hours: hours ?? estimate.expectedSeconds.map { max($0, 60) / 3_600 } ?? 24)
        return estimate
    }

    /// How many PTUs of the pipeline's model finish the run in `hours`, what they cost against
    /// pay-as-you-go (global list price), and from what monthly volume a reservation is cheaper.
    static func comparison(
        _ estimate: Estimate, facts: ModelFacts?, catalog: ModelCatalog, input: Int, outputExpected: Int, hours: Double
    ) -> Estimate.Provisioned? {
        guard let facts, let ptu = facts.provisioned, let hourly = catalog.provisionedHourly["global"],
            let prices = facts.prices[.global], estimate.documents > 0, hours > 0
        else { return nil }
        let weighted = Double(input) + Double(outputExpected) * Double(ptu.outputWeight)
        let perMinuteNeeded = weighted / (hours * 60)
        var units = max(ptu.minimum, Int((perMinuteNeeded / Double(ptu.tokensPerMinute)).rounded(.up)))
        if (units - ptu.minimum) % ptu.increment != 0 { units += ptu.increment - (units - ptu.minimum) % ptu.increment }
        let paygo = (Double(input) * prices.input + Double(outputExpected) * prices.output) / 1_000_000
        let documents = Double(max(1, estimate.documents))
        let paygoPerDocument = paygo / documents
        let weightedPerDocument = weighted / documents
        // A month of one PTU processes this many weighted tokens (730 hours).
        let monthlyCapacity = Double(ptu.tokensPerMinute) * 60 * 730
        let monthly = catalog.provisionedMonthlyReserved["global"] ?? hourly * 730
        func breakEven(_ perPTUMonth: Double) -> Double? {
            // Paying for the minimum deployment, PTUs cost less per document once their marginal cost
            // per document is below pay-as-you-go: then from this many documents a month.
            let marginal = weightedPerDocument / monthlyCapacity * perPTUMonth
            guard marginal < paygoPerDocument else { return nil }
            let minimum = Double(ptu.minimum) * perPTUMonth
            return max(minimum / paygoPerDocument, 0)
        }
        return Estimate.Provisioned(
            model: facts.name, hours: hours, ptus: units, ptuCost: Double(units) * hourly * hours,
            payAsYouGoCost: paygo, tokensPerMinutePerPTU: ptu.tokensPerMinute, outputWeight: ptu.outputWeight,
            hourlyPerPTU: hourly, monthlyPerPTU: monthly,
            breakEvenDocumentsPerMonthHourly: breakEven(hourly * 730),
            breakEvenDocumentsPerMonthReserved: breakEven(monthly), weightedTokensPerDocument: weightedPerDocument)
    }
}

/// What `sluice estimate` reports.
public struct Estimate: Sendable, Codable {
    /// One deployment's share of the estimate.
    public struct Deployment: Sendable, Codable {
        /// The deployment's name.
        public var name: String
        /// The deployed model.
        public var model: String
        /// standard or provisioned.
        public var kind = "standard"
        /// The price tier (global, data_zone, standard, batch), when priced per token.
        public var tier: String?
        /// Seconds to finish all calls at this deployment's quota alone (nil: its limits are unknown).
        public var seconds: Double?
        /// tpm, rpm or ptu.
        public var limitedBy: String?
        /// Cost at the expected output length.
        public var costExpected: Double?
        /// Cost if every reply were max_tokens long.
        public var costMax: Double?
        /// What the user should know of it (unknown prices, missing limits).
        public var note: String?

        init(name: String, model: String) {
            self.name = name
            self.model = model
        }
    }

    /// What provisioned throughput would cost for the same work.
    public struct Provisioned: Sendable, Codable {
        /// The model.
        public var model: String
        /// The time the work must finish in.
        public var hours: Double
        /// PTUs needed to finish in that time.
        public var ptus: Int
        /// What those PTUs cost for that time, paid by the hour.
        public var ptuCost: Double
        /// The same work at pay-as-you-go global list prices.
        public var payAsYouGoCost: Double
        /// Input tokens per minute one PTU processes.
        public var tokensPerMinutePerPTU: Int
        /// Input tokens one output token counts for.
        public var outputWeight: Int
        /// Price per PTU-hour.
        public var hourlyPerPTU: Double
        /// Price per PTU-month with a monthly reservation.
        public var monthlyPerPTU: Double
        /// From this many documents like these a month, PTUs cost less than pay-as-you-go (nil: never).
        public var breakEvenDocumentsPerMonthHourly: Double?
        /// Documents a month from which a reservation costs less than pay-as-you-go (nil: never).
        public var breakEvenDocumentsPerMonthReserved: Double?
        /// Prompt plus weighted output tokens per document.
        public var weightedTokensPerDocument: Double
    }

    /// The currency of every amount.
    public var currency: String
    /// The date of the catalog's prices.
    public var catalogDate: String
    /// The pipeline's model.
    public var model: String
    /// Documents read.
    public var documents: Int
    /// Files left out.
    public var skipped: Int
    /// Chunk calls to make, and their prompt tokens: exact.
    public var calls: Int
    /// Prompt tokens of the chunk calls (exact).
    public var inputTokens: Int
    /// Completion tokens if every reply were max_tokens long.
    public var outputTokensMax: Int
    /// Completion tokens at the expected output length.
    public var outputTokensExpected: Int
    /// Expected output as a fraction of max_tokens.
    public var outputRatio: Double
    /// Where the ratio comes from (stated, or a sample).
    public var outputRatioSource: String
    /// Quota charge of all calls (prompt + max_tokens, × n), what TPM limits count.
    public var charge: Int
    /// Chunk calls whose results are stored already (not counted).
    public var alreadyDone: Int
    /// Chunks that cannot fit the model's context, with the reason.
    public var overflows: [String]
    /// Reduce calls expected (map-reduce pipelines).
    public var reduceCalls = 0
    /// Prompt tokens expected in reduce calls.
    public var reduceInputTokensExpected = 0
    /// Completion tokens of reduce calls at most.
    public var reduceOutputTokensMax = 0
    /// Completion tokens of reduce calls expected.
    public var reduceOutputTokensExpected = 0
    /// Per deployment: cost and time.
    public var deployments: [Deployment] = []
    /// Seconds to finish with all the deployments together.
    public var expectedSeconds: Double?
    /// The provisioned comparison, when the model can be deployed on PTUs.
    public var provisioned: Provisioned?
    /// The same work online and through the batch lane, when the model has both prices.
    public var lanes: Lanes?

    init(
        currency: String, catalogDate: String, model: String, documents: Int, skipped: Int, calls: Int,
        inputTokens: Int, outputTokensMax: Int, outputTokensExpected: Int, outputRatio: Double,
        outputRatioSource: String, charge: Int, alreadyDone: Int, overflows: [String]
    ) {
        self.currency = currency
        self.catalogDate = catalogDate
        self.model = model
        self.documents = documents
        self.skipped = skipped
        self.calls = calls
        self.inputTokens = inputTokens
        self.outputTokensMax = outputTokensMax
        self.outputTokensExpected = outputTokensExpected
        self.outputRatio = outputRatio
        self.outputRatioSource = outputRatioSource
        self.charge = charge
        self.alreadyDone = alreadyDone
        self.overflows = overflows
    }

    enum CodingKeys: String, CodingKey {
        case currency, model, documents, skipped, calls, charge, overflows, deployments, provisioned, lanes
        case catalogDate = "catalog_date"
        case inputTokens = "input_tokens"
        case outputTokensMax = "output_tokens_max"
        case outputTokensExpected = "output_tokens_expected"
        case outputRatio = "output_ratio"
        case outputRatioSource = "output_ratio_source"
        case alreadyDone = "already_done"
        case reduceCalls = "reduce_calls"
        case reduceInputTokensExpected = "reduce_input_tokens_expected"
        case reduceOutputTokensMax = "reduce_output_tokens_max"
        case reduceOutputTokensExpected = "reduce_output_tokens_expected"
        case expectedSeconds = "expected_seconds"
    }
}

/// One document's scan.
enum Scanned: Sendable {
    case calls([CallInput])
    case skipped(SkippedFile)
}

/// A small deterministic generator for sampling.
struct SampleRandom {
    var state: UInt64 = 0x2545_F491_4F6C_DD1D
    mutating func next(below bound: Int) -> Int {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return Int(state % UInt64(max(1, bound)))
    }
}
