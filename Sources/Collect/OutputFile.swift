import Foundation
import SluiceCore
import Synchronization
import Tools

/// A run's JSONL output file, appended to in batches.
///
/// The queue remembers how many bytes committed lines account for. On open the file is cut back to
/// that length, so a line written before a crash but not committed (or cut short by it) disappears
/// and is written again from the queue: every chunk ends up with exactly one complete line.
///
/// Writes and their `fdatasync` run on a thread of their own, never on the cooperative pool.
package final class OutputFile: Sendable {
    /// The file's path.
    package let path: String
    private let descriptor: Int32
    /// Bytes in the file that committed lines account for, plus lines appended since.
    private let written: Mutex<Int64>
    /// The writer thread: one, so appends stay in order.
    private static let writer = BlockingWork.started(threads: 1)

    /// Bytes in the file that committed lines account for, plus lines appended since.
    package var length: Int64 { written.withLock { $0 } }

    /// Opens (creating) the file and cuts it back to `committedLength`.
    ///
    /// - Throws: ``SluiceError`` when the file cannot be opened, or is shorter than the committed
    ///   length (it was truncated or replaced outside Sluice).
    package init(path: String, committedLength: Int64) throws {
        self.path = path
        let descriptor = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw SluiceError(.io, "\(path): cannot open the output file: \(String(cString: strerror(errno)))")
        }
        var info = stat()
        fstat(descriptor, &info)
        if Int64(info.st_size) < committedLength {
            close(descriptor)
            throw SluiceError(
                .io,
                "\(path): the output file has \(info.st_size) bytes but \(committedLength) were committed; "
                    + "it was truncated or replaced outside Sluice (restore it, or use another --output)")
        }
        if Int64(info.st_size) > committedLength { ftruncate(descriptor, off_t(committedLength)) }
        self.descriptor = descriptor
        written = Mutex(committedLength)
    }

    deinit { close(descriptor) }

    /// How long one append and its flush may take before the run stops with an error naming the file.
    package static let timeout: Duration = .seconds(120)

    /// Appends bytes at the end and flushes them to the disk (on the writer thread, at most ``timeout``).
    package func append(_ bytes: [UInt8]) async throws {
        do {
            try await BlockingWork.run("writing \(path)", timeout: Self.timeout, on: Self.writer) {
                try self.write(bytes)
            }
        } catch let timedOut as BlockingWork.TimedOut {
            throw SluiceError(.io, "\(timedOut)")
        }
    }

    private func write(_ bytes: [UInt8]) throws {
        let length = self.length
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { raw -> Int in
                guard let base = raw.baseAddress else { return 0 }
                return pwrite(descriptor, base + written, raw.count - written, off_t(length) + off_t(written))
            }
            if result < 0 {
                if errno == EINTR { continue }
                throw SluiceError(.io, "\(path): cannot write: \(String(cString: strerror(errno)))")
            }
            written += result
        }
        guard fdatasync(descriptor) == 0 else {
            throw SluiceError(.io, "\(path): cannot flush to disk: \(String(cString: strerror(errno)))")
        }
        self.written.withLock { $0 = length + Int64(bytes.count) }
    }
}
