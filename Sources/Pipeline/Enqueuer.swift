import Foundation
import Ingest
import PromptRendering
import Queue
import SluiceCore
import Tools

/// `sluice enqueue`: records a directory's documents for a pipeline and queues what is new or changed.
public struct Enqueuer: Sendable {
    /// The queue documents are recorded in.
    public let queue: any JobQueue

    /// An enqueuer on `queue`.
    public init(queue: any JobQueue) { self.queue = queue }

    /// The longest a folder's listing may take (a hung network mount ends it with an error naming the folder).
    static let walkTimeout: Duration = .seconds(3_600)

    /// Walks `root`, hashes new and changed files (a file whose size, modification and status change
    /// times are unchanged keeps its recorded hash) and queues an ingest job for each new document version.
    public func enqueue(root: String, pipeline: PipelineDefinition) async throws -> (RunRecord, EnqueueSummary) {
        let absolute = DirectoryWalker.absolute(root)
        let hash = try PromptRenderer.hash(pipeline)
        let run = try await queue.run(root: absolute, pipeline: pipeline, pipelineHash: hash)
        let walker = DirectoryWalker(pipeline.selection)
        // Listing is blocking system calls: on a thread of its own, with a deadline for a hung mount.
        let (files, skippedByWalk) = try await BlockingWork.run("listing \(absolute)", timeout: Self.walkTimeout) {
            try walker.walk(root: absolute)
        }
        let known = try await queue.knownDocuments(runID: run.id)
        let limits = TextExtractor.Limits(pipeline.selection)
        var found: [FoundDocument] = []
        var skipped = skippedByWalk
        for file in files {
            if let previous = known[file.path], previous.size == file.size, previous.mtime == file.mtime {
                found.append(FoundDocument(document: previous, file: file.file))
                continue
            }
            do {
                let (sha, _) = try await TextExtractor.read(file: file.file, timeout: limits.toolTimeout)
                let document = DocumentRef(path: file.path, sha256: sha, size: file.size, mtime: file.mtime)
                found.append(FoundDocument(document: document, file: file.file))
            } catch {
                if error.cancelled { throw CancellationError() }
                skipped.append(SkippedFile(path: file.path, reason: error.message))
            }
        }
        let summary = try await queue.recordDocuments(run: run, found: found, skipped: skipped)
        return (run, summary)
    }
}
