import Foundation
import Queue
import SluiceCore

/// `sluice export`: the JSONL of everything a queue has done, rebuilt from what it stores — one line
/// per unit (the latest attempt's), in the order the lines were committed — on either backend.
package enum Exporter {
    /// Lines read from the queue at once.
    static let batchSize = 512

    /// What an export wrote.
    package struct Summary: Sendable, Hashable {
        /// Lines written.
        package var lines = 0
        /// Lines that could not be made (named on the way through `problem`, or counted in `lostBefore`).
        package var unreadable = 0
        /// Lines committed by a Sluice that did not keep them for export (they are in that run's output file).
        package var lostBefore = 0
    }

    /// Writes the lines of the runs `runIDs` (nil: every run) to `path`: to a temporary file beside it, renamed
    /// over it at the end, so a reader never sees half an export.
    ///
    /// - Parameter problem: Told of each line that cannot be made, naming its job.
    package static func export(
        queue: any JobQueue, runIDs: [Int64]?, to path: String, problem: (String) -> Void = { _ in }
    ) async throws -> Summary {
        let temporary = path + ".partial-\(getpid())"
        unlink(temporary)
        // Written off the cooperative pool, each batch flushed (the output file's own writer).
        let output = try OutputFile(path: temporary, committedLength: 0)
        var summary = Summary()
        do {
            var ids: [Int64] = []
            for runID in runIDs.map({ $0.map(Optional.some) }) ?? [nil] {
                ids += try await queue.exportedLineIDs(runID: runID)
            }
            var offset = 0
            while offset < ids.count {
                let batch = Array(ids[offset..<min(ids.count, offset + batchSize)])
                offset += batch.count
                // A line committed by a Sluice before exports kept no input: it is in that run's file only.
                let (kept, lost) = try await queue.jobs(ids: batch).reduce(into: ([Job](), 0)) { split, job in
                    if job.payload.isEmpty { split.1 += 1 } else { split.0.append(job) }
                }
                summary.unreadable += lost
                summary.lostBefore += lost
                let (bytes, written, failures) = try await ResultLines.lines(of: kept, queue: queue)
                try await output.append(bytes)
                summary.lines += written.count
                summary.unreadable += failures.count
                for failure in failures { problem(failure.message) }
            }
        } catch {
            unlink(temporary)
            throw error
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw SluiceError(.io, "\(path): cannot write the export: \(reason)")
        }
        return summary
    }
}
