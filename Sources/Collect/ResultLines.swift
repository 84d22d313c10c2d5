import Foundation
import Queue
import SluiceCore

/// The JSONL lines of collect jobs: each job's input, with the record it carries or the stored
/// result of the unit it points at.
enum ResultLines {
    /// The lines of `jobs` in their order, the ids of the jobs they came from, and a failure for each
    /// job whose line cannot be made (unreadable, or pointing at a result that is not stored).
    static func lines(of jobs: [Job], queue: any JobQueue) async throws -> (
        bytes: [UInt8], written: [Int64], failures: [JobFailure]
    ) {
        var bytes: [UInt8] = []
        var written: [Int64] = []
        var failures: [JobFailure] = []
        var lines: [(job: Job, input: CollectInput)] = []
        for job in jobs {
            do {
                lines.append((job, try job.decode(CollectInput.self)))
            } catch {
                failures.append(JobFailure(jobID: job.id, errorClass: .invalidJob, message: "\(error)", retryAt: nil))
            }
        }
        // A succeeded call's line points at its stored result: one read for the batch.
        let stored = try await queue.unitResults(
            unitKeys: lines.compactMap { $0.input.record == nil ? $0.input.unitKey : nil })
        for (job, input) in lines {
            do {
                let record: CallRecord
                if var inline = input.record {
                    inline.body = job.body
                    record = inline
                } else if let key = input.unitKey, let result = stored[key] {
                    record = try result.record()
                } else {
                    throw SluiceError(
                        .corruptJob,
                        "collect job \(job.id) (\(job.key)): no record, and no stored result for unit \(input.unitKey ?? "(none)")"
                    )
                }
                bytes += ResultLine.make(input, record: record)
                written.append(job.id)
            } catch {
                failures.append(JobFailure(jobID: job.id, errorClass: .invalidJob, message: "\(error)", retryAt: nil))
            }
        }
        return (bytes, written, failures)
    }
}
