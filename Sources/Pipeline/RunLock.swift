import Foundation
import SluiceCore

/// One `run` at a time on a SQLite queue: an exclusive `flock` on `<database>.owners/run.lock`, held
/// for the run's life and released by the kernel however the process ends. A second `run` refuses
/// before it touches anything, naming the process that works the database; `enqueue`, `retry` and
/// `status` need no lock and go on while a run works (the run picks their work up).
public final class RunLock: Sendable {
    private let descriptor: Int32

    /// Takes the lock, or throws a message that names the run holding it.
    public init(databasePath: String) throws {
        let directory = databasePath + ".owners"
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw SluiceError(
                .io, "\(directory): cannot create the owners folder: \(error.localizedDescription)", cause: error)
        }
        let path = directory + "/run.lock"
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard descriptor >= 0 else {
            throw SluiceError(.io, "\(path): cannot open the run lock: \(String(cString: strerror(errno)))")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let holder = Self.holder(descriptor)
            close(descriptor)
            throw SluiceError(
                .database,
                "\(databasePath): another `sluice run` is working this database\(holder.map { " (\($0))" } ?? ""); "
                    + "one run at a time works a SQLite queue. `sluice enqueue` adds documents to it, "
                    + "`sluice status` shows its progress; wait for it to finish or stop it first")
        }
        // Who holds it, for the message of a run refused while this one works.
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, host.count)
        let hostName = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let line = Array("pid \(getpid()) on \(Printable.escaped(hostName))\n".utf8)
        _ = ftruncate(descriptor, 0)
        _ = line.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
    }

    deinit { close(descriptor) }

    /// What the holder wrote into the lock (at most one short line).
    private static func holder(_ descriptor: Int32) -> String? {
        var bytes = [UInt8](repeating: 0, count: 200)
        let count = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        let text = String(decoding: bytes.prefix(count), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : Printable.escaped(text)
    }
}
